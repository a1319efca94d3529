#!/bin/bash
# starve.sh - no client starves the others (issue 15 item 3).
#
# The bad input: 1,000 idle connections from 127.0.0.5 (one address trying
# to take every one of the tracker's max_connections = 1000 slots) while
# 127.0.0.6 keeps running full-log queries (?status=read over the whole
# log, following every cursor).  Meanwhile reads and lookups from 127.0.0.1
# must be answered, and succeed.  Without the per-address limit the idle
# connections would hold every slot and 127.0.0.1 would wait in the backlog.
# Latencies are printed as information, not asserted.
#
# Also: max_scan bounds each list request (pages of what was found plus a
# cursor) and following the cursors finds every match exactly once.
set -u
: "${T_WAIT:=60}"   # a busy CI box; every wait is for a condition
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-starve

PORT=$(t_port)
TRACKER_CONF_TRACKER="max_connections = 1000
max_connections_per_ip = 100
idle_timeout = 300s
max_scan = 250" tracker_conf "$T/ms.conf" "$PORT"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY

seed -s alice@a.example -r bob@a.example -R 10 -m 1000 > "$T/mails" || t_fail "seed"
M=$(tail -1 "$T/mails")
ID=${M%%.*}
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

# ---- max_scan: three reads among 2000 mails, found by following cursors ----
for m in $(sed -n '100p;500p;900p' "$T/mails"); do
    call POST /v1/reads "$N" "$(read_body "$m" alice@a.example bob@a.example)"
done
pages=0 found=() cursor= short=0
while :; do
    call GET "/v1/mails?status=read&limit=1000${cursor:+&cursor=$cursor}" "$Q"
    [ "$CODE" = 200 ] || { t_fail "list page $pages: $CODE $BODY"; break; }
    pages=$((pages + 1))
    found+=($(jq -r '.mails[].mail_id' <<<"$BODY"))
    cursor=$(jq -r '.next_cursor // empty' <<<"$BODY")
    [ -z "$cursor" ] || [ "$pages" -ge 50 ] && break
done
echo "info: status=read over 1000 mails with max_scan 250: $pages pages, ${#found[@]} found"
[ "$pages" -ge 4 ] && t_ok "each list request examined at most 250 mails ($pages pages)" ||
    t_fail "$pages pages, want >= 4"
[ "${#found[@]}" = 3 ] && [ "$(printf '%s\n' "${found[@]}" | sort -u | wc -l)" = 3 ] &&
    t_ok "following the cursors found the 3 read mails once each" ||
    t_fail "found ${found[*]}"

# ---- 1,000 idle connections from 127.0.0.5 ----
/usr/bin/python3 "$(dirname "$0")/holdconns.py" 127.0.0.5 127.0.0.1 "$PORT" 1000 "$T/hold" &
HOLD=$!
t_defer "kill $HOLD"
held() { read -r _ a _ o _ c < "$T/hold" && [ "$a" = 1000 ] && [ "$c" -ge 900 ]; }
t_wait held && t_ok "1000 connections tried from 127.0.0.5, the tracker closed all beyond 100: $(cat "$T/hold")" ||
    t_fail "holder: $(cat "$T/hold" 2>/dev/null)"

# ---- slow full-log queries from 127.0.0.6, in a loop ----
slow_loop() {
    local c n=0
    while :; do
        c=
        while :; do
            out=$(curl -s --interface 127.0.0.6 --max-time 60 -H "Authorization: Bearer $Q" \
                "$TRACKER_URL/v1/mails?status=received&limit=1000${c:+&cursor=$c}") || break
            c=$(jq -r '.next_cursor // empty' <<<"$out" 2>/dev/null)
            [ -n "$c" ] || break
        done
        n=$((n + 1))
        echo "$n" > "$T/slow"
    done
}
slow_loop &
SLOW=$!
t_defer "kill $SLOW"
t_wait test -s "$T/slow" && t_ok "full-log queries are running from 127.0.0.6" ||
    t_fail "no full-log query finished"

# ---- reads and lookups from 127.0.0.1 are answered meanwhile ----
ok=0 lat=()
for i in $(seq 1 50); do
    out=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code} %{time_total}' -X POST \
        -H "Authorization: Bearer $N" -H 'Content-Type: application/json' \
        --data-binary "$(read_body "$M" alice@a.example bob@a.example)" "$TRACKER_URL/v1/reads")
    [ "${out%% *}" = 200 ] && ok=$((ok + 1))
    lat+=("${out#* }")
done
[ "$ok" = 50 ] && t_ok "50 reads from 127.0.0.1 answered 200" || t_fail "$ok of 50 reads answered 200"
gok=0
for i in $(seq 1 20); do
    code=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $Q" \
        "$TRACKER_URL/v1/mails/$ID")
    [ "$code" = 200 ] && gok=$((gok + 1))
done
[ "$gok" = 20 ] && t_ok "20 lookups from 127.0.0.1 answered 200" || t_fail "$gok of 20 lookups"
call GET "/v1/mails/$ID" "$Q"
expect "every read was recorded" 200 '.recipients[] | select(.address == "bob@a.example") | .read_count == 50'
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
echo "info: read latency under load (s): min $(head -1 <<<"$sorted") median $(sed -n 25p <<<"$sorted") max $(tail -1 <<<"$sorted"); full-log walks done: $(cat "$T/slow"); holder: $(cat "$T/hold")"
kill "$SLOW" "$HOLD" 2>/dev/null
wait "$SLOW" "$HOLD" 2>/dev/null
tracker_stop
t_summary
