#!/bin/bash
# Many clients at once: 16 connections notify reads of the same entry (the
# count afterwards is exact) while others query and the config is reloaded,
# then 200 distinct recipients in parallel (each read exactly once).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-concurrent

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -r bob@a.example -R 200) || t_fail "seed"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY

# 16 clients x 25 reads of bob, each client on one keep-alive connection.
read_body "$M" alice@a.example bob@a.example > "$T/bob.json"
urls=()
for i in $(seq 25); do urls+=(-o /dev/null "$TRACKER_URL/v1/reads"); done
pids=()
for c in $(seq 16); do
    curl -s -w '%{http_code}\n' -H "Authorization: Bearer $N" \
         -H 'Content-Type: application/json' --data-binary @"$T/bob.json" \
         "${urls[@]}" > "$T/codes.$c" &
    pids+=($!)
done
# Queries at the same time.
for c in $(seq 4); do
    for i in $(seq 20); do
        curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $Q" \
             "$TRACKER_URL/v1/mails/${M%%.*}"
    done > "$T/qcodes.$c" &
    pids+=($!)
done
# Reloads while the requests run: each request keeps the config it started
# with (under ASan a freed config in use would abort the daemon).
for i in $(seq 10); do
    kill -HUP "$TRACKER_PID"
    sleep 0.05
done
wait "${pids[@]}"
ok=$(cat "$T"/codes.* | grep -c '^200$')
[ "$ok" = 400 ] && t_ok "400 concurrent reads of one entry all answered 200" ||
    t_fail "only $ok of 400 concurrent reads answered 200: $(sort "$T"/codes.* | uniq -c)"
qok=$(cat "$T"/qcodes.* | grep -c '^200$')
[ "$qok" = 80 ] && t_ok "80 queries during the writes answered 200" || t_fail "queries: $qok of 80"

call GET "/v1/mails/${M%%.*}" "$Q"
expect "read_count is exactly 400 afterwards" 200 \
    '[.recipients[] | select(.address == "bob@a.example")][0] | .status == "read" and .read_count == 400'

# 200 distinct recipients, 20 at a time.
seq 0 199 | xargs -P 20 -I{} sh -c '
    jq -cn --arg m "$1" --arg r "u$2@a.example" "{mail_id: \$m, sender: \"alice@a.example\", recipient: \$r}" |
    curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $3" \
         -H "Content-Type: application/json" --data-binary @- "$4/v1/reads"' \
    sh "$M" {} "$N" "$TRACKER_URL" > "$T/dcodes"
dok=$(grep -c '^200$' "$T/dcodes")
[ "$dok" = 200 ] && t_ok "200 distinct recipients in parallel answered 200" ||
    t_fail "distinct: $dok of 200: $(sort "$T/dcodes" | uniq -c)"
call GET "/v1/mails/${M%%.*}" "$Q"
expect "every distinct recipient read exactly once" 200 \
    '[.recipients[] | select(.address | startswith("u"))] | length == 200 and all(.status == "read" and .read_count == 1)'

call GET /metrics ""
grep -q '^mailstate_reads_recorded_total{event="read"} 600$' <<<"$BODY" &&
    t_ok "metrics: 600 reads recorded" || t_fail "metrics: $(grep reads_recorded <<<"$BODY")"
# Group commit (issue 17): the 600 acknowledged reads were written to the
# event log in fewer fdatasyncs, and applied to the mail log in fewer
# transactions, than there were reads.
syncs=$(awk '/^mailstate_evlog_syncs_total/ { print $2 }' <<<"$BODY")
batches=$(awk '/^mailstate_evlog_apply_batches_total/ { print $2 }' <<<"$BODY")
[ -n "$syncs" ] && [ "$syncs" -lt 600 ] && t_ok "event log: 600 reads in $syncs syncs" ||
    t_fail "event log: no grouping: ${syncs:-no figure} syncs for 600 reads"
[ -n "$batches" ] && [ "$batches" -lt 600 ] &&
    t_ok "mail log: 600 reads applied in $batches transactions" ||
    t_fail "mail log: ${batches:-no figure} apply transactions for 600 reads"
tracker_stop && t_ok "clean stop" || t_fail "stop status"
t_summary
