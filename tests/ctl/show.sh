#!/bin/bash
# mailstatectl show: one mail by bare id and by ID.TAG; bad ids (garbage,
# a valid id nobody recorded, a forged tag) are refused and change nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-show
ctl_setup

ID=$(seed -s alice@a.example -r bob@a.example -r dave@a.example) || t_fail "seed"
BEFORE=$(snapshot)
ctl show --json "${ID%%.*}"
t_rc "show a bare id" 0
t_check "JSON is the API's mail (bare ID, sender, 2 recipients)" \
    jq -e --arg id "${ID%%.*}" '.mail_id == $id and .sender == "alice@a.example" and (.recipients | length) == 2' <<<"$OUT"
ctl show "$ID"
t_rc "show ID.TAG" 0
t_check "table lists both recipients" grep -q "bob@a.example" "$T/ctl.out"
t_check "table lists dave" grep -q "dave@a.example" "$T/ctl.out"

# bad inputs
ctl show 'not-an-id;rm -rf /'
t_rc "garbage id: exit 2" 2
ctl show 01ARZ3NDEKTSV4RRFFQ69G5FAV
t_rc "well-formed id nobody recorded: exit 3" 3
TAG=${ID#*.}
FORGED="${ID%%.*}.$(printf '%*s' ${#TAG} '' | tr ' ' A)"
ctl show "$FORGED"
t_rc "forged tag: exit 2" 2
t_check "forged tag named as such" grep -q "tag does not match" "$T/ctl.err"
ctl show
t_rc "no id: exit 2" 2
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"
t_summary
