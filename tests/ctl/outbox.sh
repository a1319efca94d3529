#!/bin/bash
# mailstatectl outbox list / release / drop, and bad item numbers.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-outbox
ctl_setup

for r in bob dave alice; do
    ID=$(seed -s carol@c.example -r $r@a.example) || t_fail "seed"
    cseed read "${ID%%.*}" $r@a.example mx2 || t_fail "queue"
done
cseed park mx2 || t_fail "park"
ID=$(seed -s erin@c.example -r bob@a.example) || t_fail "seed"
cseed read "${ID%%.*}" bob@a.example mx2 || t_fail "queue"

ctl outbox list --json
t_rc "outbox list" 0
t_check "3 parked (1..3) and 1 waiting (4) for mx2, with status read" \
    jq -se '[.[] | [.item, .state]] == [[4,"waiting"],[1,"parked"],[2,"parked"],[3,"parked"]] and all(.peer == "mx2" and .status == "read")' <<<"$OUT"
ctl outbox list
t_check "table: header + 4 rows" test "$(wc -l < "$T/ctl.out")" = 5

BEFORE=$(snapshot)
ctl outbox release abc
t_rc "item number not a number: exit 2" 2
ctl outbox release 0
t_rc "item 0: exit 2" 2
ctl outbox release 4
t_rc "releasing a waiting item (not parked): exit 3" 3
ctl outbox drop 99
t_rc "dropping an unknown item: exit 3" 3
ctl outbox drop --all
t_rc "drop --all is not a thing: exit 2" 2
ctl outbox frobnicate
t_rc "unknown subcommand: exit 2" 2
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"

ctl outbox release 2
t_rc "release item 2" 0
ctl status --json
t_check "2 waiting, 2 parked" jq -e '.outbox == 2 and .parked == 2' <<<"$OUT"
ctl outbox drop 1
t_rc "drop parked item 1" 0
ctl outbox drop 4
t_rc "drop waiting item 4" 0
ctl outbox release --all
t_rc "release --all" 0
t_check "1 released" grep -q "released 1 parked item" "$T/ctl.out"
ctl outbox list --json
t_check "items 2 and 3 wait, nothing parked" \
    jq -se '[.[] | [.item, .state]] == [[2,"waiting"],[3,"waiting"]]' <<<"$OUT"
t_summary
