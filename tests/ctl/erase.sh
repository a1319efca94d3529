#!/bin/bash
# mailstatectl erase: refuses without --yes when nobody can confirm,
# erases every entry of the address (as sender whole mails, as recipient
# only their entry, and their outbox items), says which peers keep copies;
# an unknown address changes nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-erase
ctl_setup

A=$(seed -s alice@a.example -r bob@a.example -r dave@a.example) || t_fail "seed a"
D=$(seed -s dave@a.example -r alice@a.example -r bob@a.example) || t_fail "seed d"
C=$(seed -s carol@c.example -r alice@a.example -r bob@a.example) || t_fail "seed c"
cseed read "${C%%.*}" alice@a.example mx2 || t_fail "queue alice's read"
cseed read "${C%%.*}" bob@a.example mx2 || t_fail "queue bob's read"
BEFORE=$(snapshot)

ctl erase alice@a.example < /dev/null
t_rc "no --yes and no terminal: refused, exit 6" 6
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"

ctl erase --json --yes alice@a.example
t_rc "erase --yes" 0
t_check "1 mail + 2 entries erased, peer mx2 named as not notified" \
    jq -e '.erased == 3 and .peers_not_notified == ["mx2"]' <<<"$OUT"
ctl show "${A%%.*}"
t_rc "her own mail is gone" 3
ctl show --json "${D%%.*}"
t_check "dave's mail stays, without her entry" \
    jq -e '[.recipients[].address] == ["bob@a.example"]' <<<"$OUT"
ctl outbox list --json
t_check "her outbox item is gone, bob's stays" \
    jq -se 'length == 1 and .[0].recipient == "bob@a.example"' <<<"$OUT"
ctl export alice@a.example
t_rc "export finds nothing left" 3

# bad inputs
BEFORE=$(snapshot)
ctl erase --yes nobody@a.example
t_rc "unknown address: exit 3" 3
ctl erase --yes 'not an address'
t_rc "malformed address: exit 2" 2
ctl erase --yes
t_rc "no address: exit 2" 2
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"
t_summary
