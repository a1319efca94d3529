#!/bin/bash
# negotiate.sh - issue 14 item 8: an MTA that does not grant SMFIF_CHGHDRS.
#
# Attack / bad input: the MTA in front of the real mailstate-milter grants
# SMFIF_ADDHDRS but withholds SMFIF_CHGHDRS (a Postfix or Sendmail
# configuration, a milter proxy), so the milter cannot delete tracking
# headers that a client handed in.  A trusted internal client (127.0.0.1,
# not a peer) sends alice -> bob with
#   - a forged X-Mail-Id (bad MAC) and X-Sender: carol@c.example, and
#   - a genuine X-Mail-Id/X-Sender pair copied from carol's mail.
# Tagging and recording such a mail would leave the forged or copied header
# in it, beside ours, so the recipient's reads would count for a mail that
# never went to him (or not be ours at all).  Expected, with the built-in
# on_error (no on_error line in the config: accept): the milter asks for no
# action that was not offered, answers continue (mail always flows, design
# §8), changes nothing in the message, records nothing, and logs one error
# naming SMFIF_CHGHDRS and the queue id.  With on_error = tempfail it
# answers 4xx instead.
#
# So the test can fail, two controls on the same milter: a clean mail with
# ADDHDRS only is tagged and recorded (the refusal is only for headers it
# cannot remove), and the same forged mail from an MTA granting
# SMFIF_CHGHDRS has both headers deleted, is tagged afresh and recorded.
#
# Debian's miltertest offers every action whatever mt.negotiate says, so
# the MTA side here is our own client, tests/milter/negotiate.py.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"

t_init milter-negotiate
MILTER_BIN=${MILTER_BIN:?MILTER_BIN not set}
TOOL=${MS_TESTTOOL:?MS_TESTTOOL not set}
MTA="/usr/bin/python3 $here/negotiate.py"
SOCK=unix:$T/milter.sock
ADDHDRS=0x01
CHGHDRS=0x10
FORGED=01JDQ00000000000000000000A.AAAAAAAAAAAAAAAA
TROUBLE='cannot remove incoming tracking headers: the MTA did not grant SMFIF_CHGHDRS'

# mta NAME ACTIONS QID [HEADER...]: one mail alice -> bob from 127.0.0.1;
# the milter's answers go to $T/NAME.out.
mta() {
    local name=$1 actions=$2 qid=$3 h args=()
    shift 3
    for h in "$@"; do args+=(--header "$h"); done
    if $MTA "$SOCK" --actions "$actions" --client 127.0.0.1 --qid "$qid" \
            --from '<alice@a.example>' --rcpt '<bob@a.example>' "${args[@]}" \
            --header 'From: Alice <alice@a.example>' --header 'Subject: test' \
            > "$T/$name.out" 2> "$T/$name.err"; then
        t_ok "$name: milter dialogue ran to the end"
    else
        t_fail "$name: protocol error: $(cat "$T/$name.err")"
    fi
}
out_has() { grep -qx -- "$2" "$T/$1.out"; }
# Any reply at end of message that changes headers, body or envelope.
modifies() { grep -q '^eom [-+2behimq]\( \|$\)' "$T/$1.out"; }
count() { "$TOOL" count "$T/store"; }
# show ID: what the mail log holds for the mail id of an X-Mail-Id value.
show() { "$TOOL" show "$T/store" "${1:0:26}"; }
not() { ! "$@"; }
absent() { [ "$(show "$1")" = notfound ]; }
recorded() {   # recorded VALUE QID: the mail is in the log, bob's entry sent
    local s
    s=$(show "$1") && grep -q "queue_id=$2 " <<<"$s" &&
        grep -qx 'rcpt bob@a.example mx1 sent' <<<"$s"
}
fresh() {      # fresh VALUE [OTHER]: a well-formed id, not handed in, not OTHER
    [ "${#1}" = 43 ] && [ "$1" != "$FORGED" ] && [ "$1" != "$COPIED" ] && [ "$1" != "${2:-}" ]
}
log_lines() { grep -c -F -- "$1" "$T/milter.log"; }

milter_conf "$T/milter.conf" "$SOCK" "$T/store"
sed -i '/^on_error[[:space:]]*=/d' "$T/milter.conf"   # the built-in default
t_check "config has no on_error line (built-in default)" not grep -q on_error "$T/milter.conf"
milter_start "$T/milter.conf" || { t_fail "milter did not start"; t_summary; exit 1; }

# --- attack 1: forged X-Mail-Id (bad MAC) and X-Sender, no SMFIF_CHGHDRS
mta forged $ADDHDRS NEGBAD1 "X-Mail-Id: $FORGED" 'X-Sender: carol@c.example'
t_check "forged: milter asked for SMFIF_ADDHDRS only (what was offered)" \
    grep -q '^optneg version=6 actions=0x1 ' "$T/forged.out"
t_check "forged: no header insert/add/change, nothing modified" not modifies forged
t_check "forged: mail continues (not rejected, not tempfailed)" out_has forged 'final c'
t_check "forged: one log line naming SMFIF_CHGHDRS and the queue id, passing untagged" \
    test "$(log_lines "milter NEGBAD1: $TROUBLE; passing the mail untagged")" = 1

# --- attack 2: a genuine pair copied from carol's mail, no SMFIF_CHGHDRS
COPIED=$("$TOOL" mkid "$T/system.key" carol@c.example)
mta copied $ADDHDRS NEGBAD2 "X-Mail-Id: $COPIED" 'X-Sender: carol@c.example'
t_check "copied: milter asked for SMFIF_ADDHDRS only" \
    grep -q '^optneg version=6 actions=0x1 ' "$T/copied.out"
t_check "copied: nothing modified" not modifies copied
t_check "copied: mail continues" out_has copied 'final c'
t_check "copied: one log line naming SMFIF_CHGHDRS and the queue id" \
    test "$(log_lines "milter NEGBAD2: $TROUBLE; passing the mail untagged")" = 1
t_check "attacks: nothing recorded in the mail log" test "$(count)" = 0
t_check "copied: nothing recorded under the copied id" absent "$COPIED"

# --- control 1: a clean mail needs no SMFIF_CHGHDRS: tagged and recorded
mta clean $ADDHDRS NEGCLN
ID=$(sed -n 's/^eom i 0 X-Mail-Id //p' "$T/clean.out")
t_check "clean: X-Mail-Id inserted at 0" fresh "$ID"
t_check "clean: X-Sender alice@a.example inserted at 0" out_has clean 'eom i 0 X-Sender alice@a.example'
t_check "clean: no header changed" not grep -q '^eom m ' "$T/clean.out"
t_check "clean: mail continues" out_has clean 'final c'
t_check "clean: recorded with its queue id, bob as sent" recorded "$ID" NEGCLN
t_check "clean: no SMFIF_CHGHDRS trouble logged" test "$(log_lines "milter NEGCLN: $TROUBLE")" = 0

# --- control 2: the forged mail of attack 1 from an MTA granting SMFIF_CHGHDRS
mta granted $((ADDHDRS | CHGHDRS)) NEGCTL "X-Mail-Id: $FORGED" 'X-Sender: carol@c.example'
t_check "granted: milter asked for SMFIF_ADDHDRS and SMFIF_CHGHDRS" \
    grep -q '^optneg version=6 actions=0x11 ' "$T/granted.out"
t_check "granted: forged X-Mail-Id deleted" out_has granted 'eom m 1 X-Mail-Id '
t_check "granted: forged X-Sender deleted" out_has granted 'eom m 1 X-Sender '
NEW=$(sed -n 's/^eom i 0 X-Mail-Id //p' "$T/granted.out")
t_check "granted: tagged afresh (a new id, not the forged one)" fresh "$NEW" "$ID"
t_check "granted: X-Sender alice@a.example inserted" out_has granted 'eom i 0 X-Sender alice@a.example'
t_check "granted: mail continues" out_has granted 'final c'
t_check "granted: recorded under the new id with its queue id, bob as sent" \
    recorded "$NEW" NEGCTL
t_check "after the controls: exactly 2 mails in the log" test "$(count)" = 2
t_check "granted: no SMFIF_CHGHDRS trouble logged" test "$(log_lines "milter NEGCTL: $TROUBLE")" = 0

t_check "milter exited cleanly on SIGTERM" milter_stop

# --- on_error = tempfail: the same attack is answered 4xx, still nothing recorded
MILTER_ON_ERROR=tempfail milter_conf "$T/milter.conf" "$SOCK" "$T/store"
milter_start "$T/milter.conf" || { t_fail "milter did not restart"; t_summary; exit 1; }
mta tempfail $ADDHDRS NEGTMP "X-Mail-Id: $FORGED" 'X-Sender: carol@c.example'
t_check "tempfail: answered 4xx (on_error = tempfail)" out_has tempfail 'final t'
t_check "tempfail: nothing modified" not modifies tempfail
t_check "tempfail: one log line naming SMFIF_CHGHDRS and the queue id" \
    test "$(log_lines "milter NEGTMP: $TROUBLE; answering 4xx (on_error = tempfail)")" = 1
t_check "tempfail: still exactly 2 mails in the log" test "$(count)" = 2
t_check "milter exited cleanly on SIGTERM (tempfail config)" milter_stop

if grep -q 'Sanitizer' "$T/milter.log"; then
    t_fail "sanitizer report in the milter log"
fi
if [ "$T_FAIL" -ne 0 ]; then
    for f in "$T"/*.out; do echo "--- $f:"; cat "$f"; done
    echo "--- milter log:"; cat "$T/milter.log"
fi
t_summary
