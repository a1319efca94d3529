#!/bin/bash
# mailstatectl list: filters (sender, recipient, status, since, until,
# limit), the table and JSON lines; bad filters are refused with exit 2.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-list
ctl_setup

seed -s alice@a.example -r bob@a.example -m 4 -a 7200 > /dev/null || t_fail "seed old"
seed -s dave@a.example -r bob@a.example -r alice@a.example -m 2 > /dev/null || t_fail "seed new"
ID=$(seed -s carol@c.example -r alice@a.example) || t_fail "seed peer"
cseed read "${ID%%.*}" alice@a.example mx2 || t_fail "read"

ctl list --json
t_rc "list all" 0
t_check "7 JSON lines, newest first" jq -se --arg id "${ID%%.*}" 'length == 7 and .[0].mail_id == $id' <<<"$OUT"
ctl list --json --sender ALICE@A.EXAMPLE
t_check "by sender (case-folded domain and local part): 4" jq -se 'length == 4 and all(.sender == "alice@a.example")' <<<"$OUT"
ctl list --json --recipient alice@a.example
t_check "by recipient: 3" jq -se 'length == 3' <<<"$OUT"
ctl list --json --status read
t_check "by status read: the one read" jq -se --arg id "${ID%%.*}" 'length == 1 and .[0].mail_id == $id' <<<"$OUT"
ctl list --json --since 1h
t_check "since 1h ago: 3" jq -se 'length == 3' <<<"$OUT"
ctl list --json --until 1h
t_check "until 1h ago: 4" jq -se 'length == 4' <<<"$OUT"
ctl list --json --limit 2
t_check "limit 2" jq -se 'length == 2' <<<"$OUT"
ctl list --recipient bob@a.example
t_rc "table" 0
t_check "table: header + 6 rows" test "$(wc -l < "$T/ctl.out")" = 7
ctl list --json --sender nobody@a.example
t_rc "an address with no mail: exit 0" 0
t_check "and no line" test -z "$OUT"

# bad inputs
ctl list --status opened
t_rc "unknown status: exit 2" 2
ctl list --since yesterday
t_rc "bad time: exit 2" 2
ctl list --sender 'a@b@c'
t_rc "bad address: exit 2" 2
ctl list --limit 0
t_rc "limit 0: exit 2" 2
ctl list --limit -5
t_rc "negative limit: exit 2" 2
t_summary
