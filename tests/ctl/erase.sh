#!/bin/bash
# mailstatectl erase: refuses without --yes when nobody can confirm,
# erases every entry of the address (as sender and as SMTP AUTH login whole
# mails, as recipient only their entry, and their outbox items), queues one
# erasure for each peer (mx2; sending it: tests/ctl/erase_peers.sh); an
# unknown address erases nothing here (the peers are still told).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-erase
ctl_setup

A=$(seed -s alice@a.example -r bob@a.example -r dave@a.example) || t_fail "seed a"
D=$(seed -s dave@a.example -r alice@a.example -r bob@a.example) || t_fail "seed d"
C=$(seed -s carol@c.example -r alice@a.example -r bob@a.example) || t_fail "seed c"
# alice submitted this one (SMTP AUTH login alice@a.example) as sales@: hers too
S=$(seed -s sales@a.example -L alice@a.example -r bob@a.example) || t_fail "seed s"
# bob's login on a mail of sales@: not hers, stays
B=$(seed -s sales@a.example -L bob@a.example -r dave@a.example) || t_fail "seed b"
cseed read "${C%%.*}" alice@a.example mx2 || t_fail "queue alice's read"
cseed read "${C%%.*}" bob@a.example mx2 || t_fail "queue bob's read"
BEFORE=$(snapshot)

ctl erase alice@a.example < /dev/null
t_rc "no --yes and no terminal: refused, exit 6" 6
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"

ctl erase --json --yes alice@a.example
t_rc "erase --yes" 0
t_check "2 mails + 2 entries erased, queued for peer mx2" \
    jq -e '.erased == 4 and .queued_for == ["mx2"]' <<<"$OUT"
ctl show "${A%%.*}"
t_rc "her own mail is gone" 3
ctl show "${S%%.*}"
t_rc "the mail she sent as sales@ (found by her login) is gone" 3
ctl show "${B%%.*}"
t_rc "bob's mail as sales@ stays" 0
ctl status --json
t_check "one erasure waiting for mx2" \
    jq -e '.peers[0].peer == "mx2" and .peers[0].erasures == 1' <<<"$OUT"
ctl show --json "${D%%.*}"
t_check "dave's mail stays, without her entry" \
    jq -e '[.recipients[].address] == ["bob@a.example"]' <<<"$OUT"
ctl outbox list --json
t_check "her outbox item is gone, bob's stays" \
    jq -se 'length == 1 and .[0].recipient == "bob@a.example"' <<<"$OUT"
ctl export alice@a.example
t_rc "export finds nothing left" 3

ctl erase --yes alice@a.example
t_rc "erasing her again: nothing here, exit 3" 3
ctl status --json
t_check "still one erasure for mx2 (the new request replaced the old)" \
    jq -e '.peers[0].erasures == 1' <<<"$OUT"

# bad inputs
BEFORE=$(snapshot)
ctl erase --yes nobody@a.example
t_rc "unknown address: exit 3" 3
t_check "the peers are told all the same" grep -q "queued for mx2" "$T/ctl.out"
ctl erase --yes 'not an address'
t_rc "malformed address: exit 2" 2
ctl erase --yes
t_rc "no address: exit 2" 2
t_check "nothing changed in the mail log" test "$BEFORE" = "$(snapshot)"
ctl status --json
t_check "nothing queued for the malformed ones (alice + nobody only)" \
    jq -e '.peers[0].erasures == 2' <<<"$OUT"
t_summary
