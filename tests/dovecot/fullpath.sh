#!/bin/bash
# The whole method with no custom client (issue 7 §6): Postfix with the
# mailstate milter delivers over LMTP into Dovecot; an IMAP client
# (python3 imaplib) reads the mail; the tracker shows the recipient "read".
#
# Real programs only: Postfix, mailstate-milter, Dovecot with the plugin,
# mailstate-tracker; milter and tracker share one mail log.
# Environment (CTest sets it): MILTER_BIN, TRACKER_BIN, DOVECOT_PLUGIN.
# Exit 77 (skipped) when the milter or the Postfix adapter is not built.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${MILTER_BIN:-}" ] && [ -f "$here/../lib/postfix.sh" ] || {
    echo "skipped: needs mailstate-milter and tests/lib/postfix.sh"; exit 77; }
. "$here/../lib/common.sh"
. "$here/../lib/tracker.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/postfix.sh"
. "$here/../lib/dovecot.sh"

t_init dovecot-fullpath

rcpt_state() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TRACKER_TOKEN_QUERY" \
        "$TRACKER_URL/v1/mails/${1%%.*}" |
    /usr/bin/python3 -c '
import json, sys
try:
    mail = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for r in mail.get("recipients", []):
    if r.get("address") == sys.argv[1]:
        print(r.get("status"), r.get("via", "-"))' "$2"
}

state_is() {
    [ "$(rcpt_state "$1" "$2")" = "$3" ]
}

tport=$(t_port)
tracker_conf "$T/tracker.conf" "$tport"
tracker_start "$T/tracker.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
milter_conf "$T/milter.conf" "unix:$T/milter.sock" "$T/store"
milter_start "$T/milter.conf" || { t_fail "milter starts"; t_summary; exit 1; }
dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" || {
    t_fail "dovecot starts"; t_summary; exit 1; }
sport=$(t_port)
mta_start "$T/postfix" "$sport" "unix:$T/milter.sock" || {
    t_fail "postfix starts"; t_summary; exit 1; }
# Local mail goes to Dovecot over LMTP instead of Postfix's local(8).
mta_conf "local_transport = lmtp:unix:$DOVECOT_LMTP" ||
    t_fail "postfix delivers over LMTP"

mta_send alice@a.example bob@a.example -- --header "Subject: fullpath" ||
    t_fail "SMTP transaction accepted"
t_check "Postfix delivered over LMTP into Dovecot" mta_wait_delivered 1
msg=$(find "$DOVECOT_DIR/home/bob/Maildir/new" -type f | head -n1)
id=$(t_header "$msg" X-Mail-Id)
t_check "the milter tagged the mail (X-Mail-Id in bob's Maildir)" test -n "$id"
t_check "X-Sender names alice" test "$(t_header "$msg" X-Sender)" = alice@a.example
# LMTP delivery reported "received" (issue 11); not read yet
t_check "the tracker has bob as received at delivery" t_wait state_is "$id" bob@a.example "received lmtp"

dovecot_imap bob fetch:fullpath sleep:0.3 > "$T/imap.out" ||
    t_fail "IMAP read: $(cat "$T/imap.out")"
t_check "after an IMAP read the tracker shows bob read via imap" \
    t_wait state_is "$id" bob@a.example "read imap"
t_summary
