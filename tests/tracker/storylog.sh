#!/bin/bash
# storylog.sh - the tracker's log tells the story (issue 15 item 4): one
# info line per recorded change and one per refusal with its reason, in the
# shape "mail ID: rcpt ADDR: EVENT via VIA from SOURCE: recorded|refused: R",
# rate-limited by [log] rate, and per-request lines at level = debug.
#
# Bad inputs tried (each must change nothing and be logged as refused):
#   a forged id (the tag of a real id altered: an outsider guessing MACs),
#   a recipient the mail never had, a flood of forged ids (log flooding).
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-storylog

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT" "
[log]
rate = 2"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY
LOG=$T/tracker.log

M=$(seed -s alice@a.example -r bob@a.example) || t_fail "seed"
ID=${M%%.*}
TAG=${M#*.}
# the same id with the last character of the tag changed
last=${TAG: -1}; [ "$last" = A ] && alt=B || alt=A
FORGED=$ID.${TAG%?}$alt

tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

lines() { grep -c -F "$1" "$LOG"; }

# ---- a recorded read ----
call POST /v1/reads "$N" "$(read_body "$M" alice@a.example bob@a.example '{"via": "imap"}')"
expect "a read is recorded" 200 '.recorded == true'
want="mail $ID: rcpt bob@a.example: read via imap from token notify: recorded"
t_wait grep -qF "$want" "$LOG" && t_ok "logged: $want" || t_fail "no line '$want'"
# the tag is not in the log
grep -qF "$TAG" "$LOG" && t_fail "the MAC tag appears in the log" || t_ok "the tag is not logged"

# ---- a forged id ----
call POST /v1/reads "$N" "$(read_body "$FORGED" alice@a.example bob@a.example)"
expect "a forged id is refused" 403 '.error == "bad_mac"'
want="mail $ID: rcpt bob@a.example: read via api from token notify: refused: bad_mac"
t_wait grep -qF "$want" "$LOG" && t_ok "logged: $want (...)" || t_fail "no line '$want'"

# ---- an unknown recipient ----
call POST /v1/reads "$N" "$(read_body "$M" alice@a.example zed@a.example)"
expect "an unknown recipient is refused" 404 '.error == "recipient_not_found"'
want="mail $ID: rcpt zed@a.example: read via api from token notify: refused: recipient_not_found"
t_wait grep -qF "$want" "$LOG" && t_ok "logged: $want (...)" || t_fail "no line '$want'"

# nothing changed by the refusals: one read, bob only
call GET "/v1/mails/$ID" "$Q"
expect "the refusals changed nothing" 200 \
    '(.recipients | length) == 1 and .recipients[0].read_count == 1'

# ---- a flood of forged ids: rate = 2 per second ----
# 200 requests on one keep-alive connection (one curl, many URLs): far
# faster than two per second, so most lines must be suppressed.
before=$(lines ": refused: bad_mac")
urls=()
for i in $(seq 1 200); do urls+=("$TRACKER_URL/v1/reads"); done
curl -s -X POST -H "Authorization: Bearer $N" \
    --data-binary "$(read_body "$FORGED" alice@a.example bob@a.example)" "${urls[@]}" > "$T/flood"
refused=$(grep -o '"bad_mac"' "$T/flood" | wc -l)
[ "$refused" = 200 ] && t_ok "200 forged ids refused" || t_fail "$refused of 200 refused"
after=$(lines ": refused: bad_mac")
logged=$((after - before))
echo "info: 200 forged requests, $logged refusal lines logged"
[ "$logged" -lt 100 ] && t_ok "a flood is rate-limited ($logged of 200 lines)" ||
    t_fail "$logged of 200 refusals were logged"
# Right after the flood, a recorded read still gets its line: changes and
# refusals have buckets of their own (a read taken for a refusal here would
# find the refusals' bucket empty).
before=$(lines ": recorded")
call POST /v1/reads "$N" "$(read_body "$M" alice@a.example bob@a.example)"
expect "a read right after the flood" 200 '.recorded == true'
[ "$(lines ": recorded")" -gt "$before" ] && t_ok "its line is written: the flood did not use it up" ||
    t_fail "no line for a recorded read after a flood of refusals"
# once the bucket refills, the next refusal line says how many were dropped
one_more() {
    curl -s -o /dev/null -X POST -H "Authorization: Bearer $N" \
        --data-binary "$(read_body "$FORGED" alice@a.example bob@a.example)" "$TRACKER_URL/v1/reads"
    grep -q "refusal lines suppressed" "$LOG"
}
t_wait one_more && t_ok "the suppressed lines are counted: $(grep -o '[0-9]* refusal lines suppressed' "$LOG" | head -1)" ||
    t_fail "no 'suppressed' line"

# ---- level = debug: one line per request ----
grep -q "http: reads answered" "$LOG" && t_fail "per-request lines at info" ||
    t_ok "no per-request lines at info"
sed -i 's/^rate = 2$/rate = 2\nlevel = debug/' "$T/ms.conf"
kill -HUP "$TRACKER_PID"
t_wait grep -q "reload: .* loaded" "$LOG" || t_fail "reload"
call GET /healthz ""
call POST /v1/reads "$N" "$(read_body "$M" alice@a.example bob@a.example)"
expect "a second read" 200 '.recorded == true'
t_wait grep -q "http: reads answered 200 in [0-9.]* ms (token notify)" "$LOG" &&
    t_ok "debug: a line per request" || t_fail "no per-request line at debug"
tracker_stop
t_summary
