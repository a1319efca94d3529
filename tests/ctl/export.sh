#!/bin/bash
# mailstatectl export: every entry of an address, as sender (whole mails)
# and as recipient (only their own entry: the other recipients' entries
# are other people's data); unknown and malformed addresses.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-export
ctl_setup

seed -s alice@a.example -r bob@a.example -r dave@a.example -m 2 > /dev/null || t_fail "seed a"
seed -s dave@a.example -r alice@a.example -r bob@a.example > /dev/null || t_fail "seed d"
seed -s bob@a.example -r dave@a.example > /dev/null || t_fail "seed b"
BEFORE=$(snapshot)

ctl export Alice@A.Example
t_rc "export alice" 0
t_check "3 JSON lines: 2 as sender, 1 as recipient" \
    jq -se '([.[] | select(.role == "sender")] | length) == 2 and ([.[] | select(.role == "recipient")] | length) == 1' <<<"$OUT"
t_check "as sender: whole mails with both recipients" \
    jq -se 'all(.[] | select(.role == "sender"); .mail.sender == "alice@a.example" and (.mail.recipients | length) == 2)' <<<"$OUT"
t_check "as recipient: her own entry only, not bob's" \
    jq -se '.[] | select(.role == "recipient") | .sender == "dave@a.example" and .entry.address == "alice@a.example"' <<<"$OUT"
t_check "bob's address appears nowhere in her recipient line" \
    bash -c "! jq -c 'select(.role == \"recipient\")' <<<'$OUT' | grep -q bob@"

# bad inputs
ctl export nobody@a.example
t_rc "address with no entry: exit 3" 3
t_check "said so" grep -q "no entry of nobody@a.example" "$T/ctl.err"
ctl export $'evil@a.example\r\nX-Injected: 1'
t_rc "CR LF in the address: exit 2" 2
ctl export '<>'
t_rc "the null sender: exit 2" 2
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"
t_summary
