#!/bin/bash
# outbox.sh - the outbox holds state, not events (issue 15 item 2), with two
# real trackers: mx1 (127.0.0.1, hosts a.example, the sender's home) and
# mx2 (127.0.0.2, hosts c.example, the recipient's server).
#
#   1. mx1 is down; bob@c.example's \Seen is toggled 50 times (50 reads
#      POSTed to mx2): every read is answered and recorded at mx2, and mx2's
#      outbox for mx1 holds ONE item (mailstate_outbox_depth from /metrics).
#   2. mx1 comes back: it gets the final state (read_count 50) and mx2's
#      outbox empties.
#   3. forward_max_queue = 2 at mx2, mx1 down: reads of 4 different mails
#      are all recorded at mx2 (the bad input: a flood of distinct entries
#      against a dead peer), the outbox stops at 2, the overflow is counted
#      and logged, and mailstate_outbox_full says so.
set -u
: "${T_WAIT:=60}"   # a busy CI box; every wait is for a condition
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pair.sh"
t_init tracker-outbox

fatal() { t_fail "$*"; t_summary; exit 1; }

pair_init
TOK=outbox-test-token-0123456789abcdef
TOKEN_INI="[token all]
secret = $TOK
scopes = notify query admin"

metric() {  # metric NAME URL: the value of mailstate_NAME{peer="mx1"}
    curl -sf --max-time 5 "$2/metrics" |
        awk -v m="mailstate_$1{peer=\"mx1\"}" '$1 == m { print $2 }'
}
post_read() {   # post_read URL MAIL_ID -> HTTP code; body in $T/last
    curl -sS --max-time 20 -o "$T/last" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
        --data-binary "$(jq -cn --arg m "$2" \
            '{mail_id: $m, sender: "alice@a.example", recipient: "bob@c.example", via: "imap"}')" \
        "$1/v1/reads"
}
mail_count() {  # mail_count URL ID: bob's read_count there
    curl -sf --max-time 5 -H "Authorization: Bearer $TOK" "$1/v1/mails/$2" |
        jq -r '.recipients[] | select(.address == "bob@c.example") | .read_count // 0'
}

# The same mail recorded by both servers, as the milters would have.
M=$("$SEED_BIN" -d "$T/store-mx1" -k "$PAIR_KEY" -s alice@a.example -r bob@c.example=mx2) ||
    fatal "seed mx1"
ID=${M%%.*}
"$SEED_BIN" -d "$T/store-mx2" -k "$PAIR_KEY" -s alice@a.example -r bob@c.example=mx2 -i "$M" \
    > /dev/null || fatal "seed mx2"

pair_conf mx1 "" "$TOKEN_INI"
pair_conf mx2 "" "$TOKEN_INI"
pair_start mx2 || fatal "mx2 starts"

# ---- 1. 50 toggles while mx1 is down ----
ok=0
for i in $(seq 1 50); do
    code=$(post_read "${PAIR_URL[mx2]}" "$M")
    [ "$code" = 200 ] && ok=$((ok + 1))
done
[ "$ok" = 50 ] && t_ok "50 reads answered 200 while the peer is down" ||
    t_fail "only $ok of 50 reads answered 200 (last: $(cat "$T/last"))"
n=$(mail_count "${PAIR_URL[mx2]}" "$ID")
[ "$n" = 50 ] && t_ok "mx2 recorded all 50 (read_count $n)" || t_fail "mx2 read_count $n, want 50"
depth=$(metric outbox_depth "${PAIR_URL[mx2]}")
[ "$depth" = 1 ] && t_ok "50 toggles of one entry: outbox depth 1" ||
    t_fail "outbox depth $depth after 50 toggles, want 1"
echo "info: outbox depth after 50 toggles: $depth"

# ---- 2. mx1 back: the final state arrives ----
pair_start mx1 || fatal "mx1 starts"
got_final() { [ "$(mail_count "${PAIR_URL[mx1]}" "$ID")" = 50 ]; }
t_wait got_final && t_ok "mx1 got the final state (read_count 50)" ||
    t_fail "mx1 read_count $(mail_count "${PAIR_URL[mx1]}" "$ID"), want 50"
drained() { [ "$(metric outbox_depth "${PAIR_URL[mx2]}")" = 0 ]; }
t_wait drained && t_ok "mx2's outbox emptied" || t_fail "outbox depth $(metric outbox_depth "${PAIR_URL[mx2]}")"
sent=$(metric forward_items_sent_total "${PAIR_URL[mx2]}")
echo "info: items forwarded for 50 toggles: $sent"
[ "$sent" = 1 ] && t_ok "one item forwarded for 50 toggles" || t_fail "$sent items forwarded, want 1"

# ---- 3. the bound: forward_max_queue = 2 ----
pair_stop mx1
pair_stop mx2
pair_conf mx2 "forward_max_queue = 2" "$TOKEN_INI"
ids=()
for i in 1 2 3 4; do
    m=$("$SEED_BIN" -d "$T/store-mx2" -k "$PAIR_KEY" -s alice@a.example -r bob@c.example=mx2) ||
        fatal "seed $i"
    ids+=("$m")
done
pair_start mx2 || fatal "mx2 restarts"
ok=0
for m in "${ids[@]}"; do
    [ "$(post_read "${PAIR_URL[mx2]}" "$m")" = 200 ] && ok=$((ok + 1))
done
[ "$ok" = 4 ] && t_ok "reads beyond the bound are answered 200" || t_fail "$ok of 4 answered"
rec=0
for m in "${ids[@]}"; do
    [ "$(mail_count "${PAIR_URL[mx2]}" "${m%%.*}")" = 1 ] && rec=$((rec + 1))
done
[ "$rec" = 4 ] && t_ok "all 4 recorded locally" || t_fail "$rec of 4 recorded"
depth=$(metric outbox_depth "${PAIR_URL[mx2]}")
[ "$depth" = 2 ] && t_ok "outbox stops at forward_max_queue (2)" || t_fail "depth $depth, want 2"
over=$(curl -sf "${PAIR_URL[mx2]}/metrics" | awk '$1 == "mailstate_outbox_overflow_total" { print $2 }')
[ "$over" = 2 ] && t_ok "2 changes counted as not queued" || t_fail "overflow $over, want 2"
full=$(metric outbox_full "${PAIR_URL[mx2]}")
[ "$full" = 1 ] && t_ok "mailstate_outbox_full{peer=mx1} is 1" || t_fail "outbox_full $full"
grep -q "outbox for mx1 full (forward_max_queue = 2)" "$T/mx2.log" &&
    t_ok "the overflow is logged" || t_fail "no overflow line in the log"
[ "$(grep -c "outbox for mx1 full" "$T/mx2.log")" = 1 ] &&
    t_ok "one log line for the burst (rate-limited)" || t_fail "overflow lines: $(grep -c "outbox for mx1 full" "$T/mx2.log")"
pair_stop mx2
t_summary
