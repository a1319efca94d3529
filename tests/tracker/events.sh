#!/bin/bash
# GET /v1/events (issue 17): the event feed against the real tracker, real
# HTTP and the real LMDB: reads appear with gapless sequence numbers, the
# long poll returns when an event is committed, the waiters are bounded,
# bad parameters and tokens are refused, and the feed survives a restart.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-events

PORT=$(t_port)
F=feed-secret-0123456789abcdef
tracker_conf "$T/ms.conf" "$PORT" "
[token feed]
secret = $F
scopes = events

[events]
max_waiters = 2"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY

M1=$(seed -s alice@a.example -r bob@a.example -r dave@a.example -r gus@a.example) ||
    t_fail "seed M1"
ID1=${M1%%.*}
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

metric() {   # metric NAME: its value in /metrics
    tracker_curl "$TRACKER_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
waiting_is() { [ "$(metric mailstate_events_waiting)" = "$1" ]; }

call GET "/v1/events" "$F"
expect "an empty feed: no events, next 0" 200 '.events == [] and .next == 0'

call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example)"
expect "bob reads (POST /v1/reads)" 200 '.recorded == true'
call GET "/v1/events?after=0" "$F"
expect "the read is event 1, with bare id, sender and state after" 200 '
    (.events | length) == 1 and .next == 1 and
    (.events[0] | .seq == 1 and .mail_id == "'"$ID1"'" and .sender == "alice@a.example"
     and .recipient == "bob@a.example" and .event == "read" and .status == "read"
     and .read_count == 1 and .via == "api" and .source == "local"
     and (has("original_recipient") | not)
     and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$")))'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example '{via: "imap"}')"
call GET "/v1/events?after=1" "$F"
expect "a second read is event 2 (read_count 2)" 200 '
    (.events | length) == 1 and .next == 2 and .events[0].seq == 2
    and .events[0].read_count == 2 and .events[0].via == "imap"'
call GET "/v1/events?after=0&limit=1" "$F"
expect "limit=1 pages: event 1, next 1" 200 '(.events | length) == 1 and .events[0].seq == 1 and .next == 1'
call GET "/v1/events?after=2&wait=0" "$F"
expect "nothing after the newest: [] and next stays" 200 '.events == [] and .next == 2'

# --- the long poll ---------------------------------------------------------
# A waiting request; it can only see dave's read if it is woken (or re-reads):
# had it timed out it would answer [] (30 s is far beyond this test's pace).
tracker_curl -H "Authorization: Bearer $F" "$TRACKER_URL/v1/events?after=2&wait=30" \
    > "$T/poll1" &
POLL=$!
t_wait waiting_is 1 && t_ok "the long poll waits (mailstate_events_waiting 1)" ||
    t_fail "long poll not waiting: $(metric mailstate_events_waiting)"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example)"
expect "dave reads while the poll waits" 200 '.recorded == true'
wait $POLL
BODY=$(sed '$d' "$T/poll1") CODE=$(tail -1 "$T/poll1")
expect "the long poll returns dave's read, event 3" 200 '
    (.events | length) == 1 and .events[0].seq == 3 and .events[0].recipient == "dave@a.example"
    and .next == 3'
call GET "/v1/events?after=3&wait=1" "$F"
expect "a long poll with nothing new ends with [] after its wait" 200 '.events == [] and .next == 3'

# --- bounded waiters ([events] max_waiters = 2) -------------------------------
tracker_curl -H "Authorization: Bearer $F" "$TRACKER_URL/v1/events?after=3&wait=30" > "$T/pa" &
PA=$!
tracker_curl -H "Authorization: Bearer $F" "$TRACKER_URL/v1/events?after=3&wait=30" > "$T/pb" &
PB=$!
t_wait waiting_is 2 && t_ok "two long polls wait" || t_fail "two polls: $(metric mailstate_events_waiting)"
# bad input: a third client beyond the bound is refused at once, not queued
call GET "/v1/events?after=3&wait=30" "$F"
expect "a third waiter: 503 busy" 503 '.error == "busy"'
grep -qi '^Retry-After: 1' <<<"$HDRS" && t_ok "503 carries Retry-After" || t_fail "no Retry-After: $HDRS"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example gus@a.example)"
wait $PA $PB
for f in "$T/pa" "$T/pb"; do
    BODY=$(sed '$d' "$f") CODE=$(tail -1 "$f")
    expect "a waiter gets gus's read (event 4)" 200 '.events[0].seq == 4 and .events[0].recipient == "gus@a.example"'
done

# --- bad input: parameters and tokens (each leaves the feed as it was) -------
for q in "after=abc" "after=-1" "after=1e3" "after=%201" "after=" "limit=0" "limit=1001" \
         "limit=x" "wait=61" "wait=-1" "wait=1.5" "after=1&after=2" "since=1" \
         "after=99999999999999999999999"; do
    call GET "/v1/events?$q" "$F"
    expect "bad parameter $q: 400 bad_query" 400 '.error == "bad_query"'
done
call GET "/v1/events" "$Q"
expect "a token without scope events (query): 403" 403 '.error == "forbidden"'
grep -q 'insufficient_scope' <<<"$HDRS" && t_ok "403 says insufficient_scope" || t_fail "403 headers: $HDRS"
call GET "/v1/events" "$N"
expect "a notify token: 403" 403 '.error == "forbidden"'
call GET "/v1/events" ""
expect "no token: 401" 401 '.error == "unauthorized"'
call GET "/v1/events" "not-a-token-0123456789"
expect "an unknown token: 401" 401 '.error == "unauthorized"'
call POST "/v1/events" "$F" '{}'
expect "POST /v1/events: 405" 405 '.error == "method_not_allowed"'
call GET "/v1/events?after=0" "$F"
expect "after the refusals the feed is unchanged: events 1..4" 200 '[.events[].seq] == [1,2,3,4] and .next == 4'

# --- shutdown ends a waiting poll; the feed survives a restart ----------------
tracker_curl -H "Authorization: Bearer $F" "$TRACKER_URL/v1/events?after=4&wait=60" > "$T/pz" &
PZ=$!
t_wait waiting_is 1 || t_fail "last poll not waiting"
tracker_stop && t_ok "the tracker stops with a long poll waiting" || t_fail "stop failed"
wait $PZ
BODY=$(sed '$d' "$T/pz") CODE=$(tail -1 "$T/pz")
expect "the waiting poll is answered at shutdown ([])" 200 '.events == [] and .next == 4'
tracker_start "$T/ms.conf" || t_fail "tracker restarts"
call GET "/v1/events?after=0" "$F"
expect "after a restart: the same events 1..4" 200 '[.events[].seq] == [1,2,3,4]
    and [.events[].recipient] == ["bob@a.example","bob@a.example","dave@a.example","gus@a.example"]'
[ "$(metric mailstate_events_last_seq)" = 4 ] && t_ok "mailstate_events_last_seq 4" ||
    t_fail "last_seq metric: $(metric mailstate_events_last_seq)"

t_summary
