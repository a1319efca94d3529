#!/bin/bash
# The web page (issue 12) in a real headless Chromium (tests/lib/browser.py):
# after a real Postfix -> milter -> LMTP -> Dovecot delivery and bob's IMAP
# read (setup.sh), alice logs in on the page and sees bob "Read" and dave
# "Not yet read"; at 1280 px and at 390 px (a phone) the page has no
# sideways scrolling; "Read by me", log out, a wrong password.  Screenshots
# land in $T; with UPDATE_SCREENSHOTS=1 also in docs/ (committed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v dovecot >/dev/null && command -v swaks >/dev/null && [ -x /usr/bin/chromium ] &&
    /usr/bin/python3 -c 'import websocket' 2>/dev/null ||
    { echo "skipped: needs dovecot, swaks, chromium and python3-websocket"; exit 77; }
. "$here/setup.sh"
t_init me-browser
ME_RECORD_SUBJECT=1
me_world || { t_fail "setup: mails delivered, read by bob"; t_summary; exit 1; }
# One more of alice's mails: dave reads it, bob deletes it unread.
mta_send alice@a.example bob@a.example dave@a.example -- --local-interface 127.0.0.2 \
    --auth PLAIN --auth-user alice@a.example --auth-password "$PW" \
    --header "Subject: Offsite agenda" >/dev/null || t_fail "third mail sent"
t_check "third mail delivered" mta_wait_delivered 5
dovecot_imap dave fetch:Offsite sleep:0.3 > /dev/null || t_fail "dave reads"
dovecot_imap bob delete:Offsite sleep:0.3 > /dev/null || t_fail "bob deletes"
t_check "dave read, bob deleted unread" t_wait sh -c \
    "curl -sS -u alice@a.example:$PW '$TRACKER_URL/v1/me/sent?status=deleted_unread' | grep -q Offsite"

out=$T/shots
mkdir -p "$out"
/usr/bin/python3 "$here/browser_check.py" "$TRACKER_URL" "$out" "$M_ALICE" "$M_BOB" "$PW" \
    > "$T/browser.out" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
        "ok "*) t_ok "${line#ok }" ;;
        "FAIL "*) t_fail "${line#FAIL }" ;;
        *) t_log "$line" ;;
    esac
done < "$T/browser.out"
[ $rc = 0 ] || t_fail "browser_check.py exited $rc"
if [ "${UPDATE_SCREENSHOTS:-}" = 1 ] && [ $rc = 0 ]; then
    cp "$out/screenshot-web.png" "$out/screenshot-web-phone.png" "$DOCS_DIR/"
    t_log "screenshots copied to $DOCS_DIR"
fi
t_summary
