#!/bin/bash
# Reads see acknowledged events at once (issue 17 item 2) now that reads and
# single-mail lookups run on the HTTP polling threads: 8 clients each POST a
# read and, on the same keep-alive connection, GET the mail straight after;
# the GET must show at least the read_count the POST answered (a lookup that
# skipped the apply barrier shows an older count: the failure this looks
# for).  Lookups of a mail with nothing pending are answered directly; those
# with events not yet applied go to the query pool and wait: both paths must
# have been taken (mailstate_lookups_total).  Bad input: a read whose answer
# must wait for the log, for a recipient the mail does not have, is refused
# on the polling thread with 404 and leaves no pending event behind.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-ryw

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -R 64) || t_fail "seed"
QUIET=$(seed -s alice@a.example -r bob@a.example) || t_fail "seed"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

cat > "$T/ryw.py" <<'PY'
import http.client, json, sys, threading
port, mail, quiet, ntok, qtok = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
mid = mail.split(".")[0]
bad, done, errors = [], [0], []
lock = threading.Lock()

def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(60):
            rcpt = "u%d@a.example" % ((k * 8 + i) % 64)
            body = json.dumps({"mail_id": mail, "sender": "alice@a.example", "recipient": rcpt})
            c.request("POST", "/v1/reads", body, {"Authorization": "Bearer " + ntok,
                                                  "Content-Type": "application/json"})
            r = c.getresponse(); data = r.read()
            if r.status != 200:
                errors.append("POST %d %s" % (r.status, data[:200])); return
            acked = json.loads(data)["recipient"]["read_count"]
            c.request("GET", "/v1/mails/" + mid, headers={"Authorization": "Bearer " + qtok})
            r = c.getresponse(); data = r.read()
            if r.status != 200:
                errors.append("GET %d %s" % (r.status, data[:200])); return
            seen = [e for e in json.loads(data)["recipients"] if e["address"] == rcpt][0]
            if seen.get("read_count", 0) < acked:
                with lock:
                    bad.append("%s: answered %d, GET showed %d" % (rcpt, acked, seen.get("read_count", 0)))
            # A mail with nothing pending: answered directly.
            c.request("GET", "/v1/mails/" + quiet.split(".")[0],
                      headers={"Authorization": "Bearer " + qtok})
            r = c.getresponse(); r.read()
            if r.status != 200:
                errors.append("GET quiet %d" % r.status); return
            with lock:
                done[0] += 1
    except Exception as e:
        errors.append(repr(e))

ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("pairs", done[0])
print("stale", len(bad))
for b in bad[:5]: print("  ", b)
for e in errors[:5]: print("error", e)
PY
/usr/bin/python3 "$T/ryw.py" "$PORT" "$M" "$QUIET" "$TRACKER_TOKEN_NOTIFY" "$TRACKER_TOKEN_QUERY" \
    > "$T/ryw.out" 2>&1
pairs=$(awk '$1 == "pairs" { print $2 }' "$T/ryw.out")
stale=$(awk '$1 == "stale" { print $2 }' "$T/ryw.out")
[ "$pairs" = 480 ] && t_ok "480 read + lookup pairs answered 200" ||
    t_fail "pairs: ${pairs:-none} of 480: $(grep error "$T/ryw.out" | head -3)"
[ "$stale" = 0 ] && t_ok "every lookup showed the read acknowledged just before it" ||
    t_fail "$stale lookups missed an acknowledged read: $(sed -n '/stale/,$p' "$T/ryw.out" | head -4)"

call GET "/v1/mails/${M%%.*}" "$TRACKER_TOKEN_QUERY"
expect "480 reads counted exactly afterwards" 200 \
    '[.recipients[] | .read_count] | add == 480'

# Bad input on the polling thread: an unknown recipient is refused at once.
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$M" alice@a.example nobody@a.example)"
expect "unknown recipient: 404, nothing appended" 404 '.error == "recipient_not_found"'

call GET /metrics ""
direct=$(sed -n 's/^mailstate_lookups_total{path="direct"} //p' <<<"$BODY")
waited=$(sed -n 's/^mailstate_lookups_total{path="waited"} //p' <<<"$BODY")
appended=$(sed -n 's/^mailstate_evlog_appended //p' <<<"$BODY")
[ "${direct:-0}" -gt 0 ] && t_ok "lookups answered directly: $direct" ||
    t_fail "no lookup answered directly (${direct:-no figure})"
[ "${waited:-0}" -gt 0 ] && t_ok "lookups that waited for pending events: $waited" ||
    t_fail "no lookup waited for pending events (${waited:-no figure})"
[ "$appended" = 480 ] && t_ok "event log: 480 events appended, the refused read none" ||
    t_fail "event log: ${appended:-no figure} appended, want 480"
tracker_stop && t_ok "clean stop" || t_fail "stop status"
t_summary
