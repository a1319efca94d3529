#!/bin/bash
# Webhooks of the event feed (issue 17) against the real tracker, real HTTP,
# real LMDB and a small receiver (hookrx.py) that verifies each signature
# with the secret: a 500 is retried and the same batch delivered, events
# arrive in order and none is lost while the receiver is down (its backlog
# shows in /metrics), the filter holds, the position survives a restart.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-webhook

PORT=$(t_port) RPORT=$(t_port)
printf 'whsec-0123456789abcdef-test\n' > "$T/hook.secret"
chmod 600 "$T/hook.secret"
HOOK="
[events]
webhook_backoff_max = 2s

[webhook rx]
url = http://127.0.0.1:$RPORT/hook
secret_file = $T/hook.secret
events = read deleted_unread"
tracker_conf "$T/ms.conf" "$PORT" "$HOOK"
N=$TRACKER_TOKEN_NOTIFY

# bad input: a world-readable webhook secret is refused by -n (like tokens)
cp "$T/hook.secret" "$T/open.secret" && chmod 644 "$T/open.secret"
tracker_conf "$T/bad.conf" "$PORT" "${HOOK//hook.secret/open.secret}"
out=$("$TRACKER_BIN" -n -c "$T/bad.conf" 2>&1)
[ $? -ne 0 ] && grep -q "webhook rx\] secret_file .*chmod 600" <<<"$out" &&
    t_ok "-n refuses a webhook secret open to others" || t_fail "-n open secret: $out"
# bad input: a receiver that is not http(s)
tracker_conf "$T/bad2.conf" "$PORT" "${HOOK//http:\/\/127.0.0.1:$RPORT\/hook/gopher://127.0.0.1/}"
out=$("$TRACKER_BIN" -n -c "$T/bad2.conf" 2>&1)
[ $? -ne 0 ] && grep -q "url: bad value 'gopher://" <<<"$out" &&
    t_ok "-n refuses a gopher:// webhook url" || t_fail "-n gopher: $out"

RX_PID=
rx_start() {
    /usr/bin/python3 "$(dirname "$0")/hookrx.py" "$RPORT" "$T/hook.secret" "$T/rx.log" \
        "$T/plan" >> "$T/rx.err" 2>&1 &
    RX_PID=$!
    t_wait t_port_open "$RPORT"
}
rx_stop() {
    [ -n "$RX_PID" ] || return 0
    kill "$RX_PID" 2>/dev/null
    wait "$RX_PID" 2>/dev/null
    RX_PID=
}
t_defer rx_stop
metric() {
    tracker_curl "$TRACKER_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
backlog() { metric 'mailstate_webhook_backlog{webhook="rx"}'; }
backlog_is() { [ "$(backlog)" = "$1" ]; }
backlog_above() { [ "$(backlog)" -gt "$1" ] 2>/dev/null; }
failures_above() { [ "$(metric 'mailstate_webhook_failures_total{webhook="rx"}')" -gt "$1" ] 2>/dev/null; }
rx_lines() { [ -f "$T/rx.log" ] && [ "$(wc -l < "$T/rx.log")" -ge "$1" ]; }
# every seq the receiver accepted (2xx), in arrival order
accepted() { jq -s -c '[.[] | select(.code < 300) | .seqs[]]' "$T/rx.log"; }
accepted_has() { jq -e --argjson s "$1" 'index($s) != null' <<<"$(accepted)" >/dev/null; }

M1=$(seed -s alice@a.example -r bob@a.example -r dave@a.example -r gus@a.example) ||
    t_fail "seed M1"
ID1=${M1%%.*}

# --- a 500 is retried; the same batch then arrives --------------------------
echo 500 > "$T/plan"
rx_start || t_fail "receiver starts"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example)"
expect "bob reads (event 1)" 200 '.recorded == true'
t_wait rx_lines 2 && t_ok "the receiver saw two POSTs (500, then the retry)" ||
    t_fail "receiver log: $(cat "$T/rx.log" 2>/dev/null)"
jq -s -e '.[0].code == 500 and .[1].code == 200 and all(.[]; .sig_ok)
    and .[0].delivery == .[1].delivery and .[0].delivery == "rx-1-1"
    and .[0].seqs == [1] and .[1].seqs == [1] and .[1].webhook == "rx"
    and .[1].ctype == "application/json"
    and (.[1].events[0] | .mail_id == "'"$ID1"'" and .recipient == "bob@a.example"
         and .sender == "alice@a.example" and .event == "read" and .status == "read")' \
    "$T/rx.log" >/dev/null &&
    t_ok "the retry is the same signed batch (id rx-1-1, seq 1), accepted" ||
    t_fail "retry: $(cat "$T/rx.log")"
t_wait backlog_is 0 && t_ok "backlog 0 once delivered" || t_fail "backlog $(backlog)"
[ "$(metric 'mailstate_webhook_failures_total{webhook="rx"}')" -ge 1 ] &&
    t_ok "the 500 is counted in mailstate_webhook_failures_total" ||
    t_fail "failures: $(metric 'mailstate_webhook_failures_total{webhook="rx"}')"

# --- the filter: received is not asked for ----------------------------------
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example gus@a.example '{event: "received"}')"
expect "gus's delivery (event 2, received)" 200 '.recorded == true'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example)"
expect "dave reads (event 3)" 200 '.recorded == true'
t_wait accepted_has 3 && t_ok "dave's read (seq 3) delivered" || t_fail "no seq 3: $(accepted)"
t_wait backlog_is 0 || t_fail "backlog after seq 3: $(backlog)"
[ "$(accepted)" = "[1,3]" ] && t_ok "received (seq 2) was not sent: accepted [1,3]" ||
    t_fail "accepted: $(accepted)"

# --- receiver down: backlog grows, nothing is lost, order kept --------------
rx_stop
F0=$(metric 'mailstate_webhook_failures_total{webhook="rx"}')
for r in bob dave gus bob; do
    call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example $r@a.example)"
    expect "$r reads while the receiver is down" 200 '.recorded == true'
done
t_wait backlog_above 3 && t_ok "backlog > 0 while the receiver is down ($(backlog))" ||
    t_fail "backlog while down: $(backlog)"
t_wait failures_above "$F0" && t_ok "failed attempts are counted while it is down" ||
    t_fail "failures while down"
rx_start || t_fail "receiver restarts"
t_wait accepted_has 7 && t_ok "after the receiver is back, seq 7 arrives" || t_fail "accepted: $(accepted)"
t_wait backlog_is 0 && t_ok "backlog back to 0" || t_fail "backlog $(backlog)"
jq -e '. == [1,3,4,5,6,7]' <<<"$(accepted)" >/dev/null &&
    t_ok "every wanted event accepted once, in order: $(accepted)" || t_fail "accepted: $(accepted)"
jq -s -e 'all(.[]; .sig_ok)' "$T/rx.log" >/dev/null && t_ok "every POST's signature verified" ||
    t_fail "a bad signature"
[ "$(metric 'mailstate_webhook_delivered_total{webhook="rx"}')" = 6 ] &&
    t_ok "mailstate_webhook_delivered_total 6" ||
    t_fail "delivered: $(metric 'mailstate_webhook_delivered_total{webhook="rx"}')"

# --- the position is durable: a restart resends nothing ---------------------
tracker_stop || t_fail "tracker stops"
tracker_start "$T/ms.conf" || t_fail "tracker restarts"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example)"
t_wait accepted_has 8 && t_ok "after a restart the next event (8) is delivered" ||
    t_fail "accepted: $(accepted)"
jq -e '. == [1,3,4,5,6,7,8]' <<<"$(accepted)" >/dev/null &&
    t_ok "nothing before 8 was resent after the restart" || t_fail "accepted: $(accepted)"

# --- a receiver that never verifies (wrong secret): retried, never skipped ---
rx_stop
printf 'another-secret-0123456789\n' > "$T/other.secret"
/usr/bin/python3 "$(dirname "$0")/hookrx.py" "$RPORT" "$T/other.secret" "$T/rx2.log" "$T/plan" \
    >> "$T/rx.err" 2>&1 &
RX_PID=$!
t_wait t_port_open "$RPORT" || t_fail "second receiver"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example)"
t_wait test -s "$T/rx2.log" && jq -s -e 'all(.[]; .sig_ok == false and .code == 401)' "$T/rx2.log" >/dev/null &&
    t_ok "a receiver with another secret refuses the signature (401)" || t_fail "rx2: $(cat "$T/rx2.log" 2>/dev/null)"
t_wait backlog_above 0 && t_ok "and the event stays in the backlog ($(backlog))" || t_fail "backlog $(backlog)"

t_summary
