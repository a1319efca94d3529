#!/bin/bash
# The Roundcube plugin end to end (issue 13): Debian's Roundcube under PHP's
# built-in server with roundcube/mailstate, real Dovecot (IMAP, LMTP, auth,
# the mailstate plugin), Postfix with the milter, the tracker with [auth];
# a real headless Chromium does what alice and bob do (roundcube_check.py).
# Screenshots land in $T; with UPDATE_SCREENSHOTS=1 also in $DOCS_DIR (docs/,
# committed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
for c in dovecot postfix swaks php chromium; do
    command -v $c >/dev/null || { echo "skipped: needs $c"; exit 77; }
done
[ -d /var/lib/roundcube/public_html ] || { echo "skipped: needs Debian's roundcube"; exit 77; }
/usr/bin/python3 -c 'import websocket' 2>/dev/null || { echo "skipped: needs python3-websocket"; exit 77; }
. "$here/world.sh"
t_init roundcube

rc_world || { t_fail "setup: tracker, Dovecot, milter, Postfix, Roundcube"; t_summary; exit 1; }
[ "${UPDATE_SCREENSHOTS:-}" = 1 ] || DOCS_DIR=
RC_URL=$RC_URL TRACKER_URL=$TRACKER_URL TRACKER_PID=$TRACKER_PID PW=secret SHOT_DIR=$T DOCS_DIR=${DOCS_DIR:-} \
    /usr/bin/python3 "$here/roundcube_check.py" > "$T/check.out" 2>&1
rc=$?
cat "$T/check.out"
t_check "roundcube_check.py: every check passed" test $rc -eq 0
grep -q '^FAIL' "$T/check.out" && t_fail "some browser checks failed (above)"
# the tracker was stopped by the check; the PID is gone
TRACKER_PID=
t_check "Roundcube logged no PHP errors" sh -c "! grep -qi 'php \(fatal\|warning\|error\)' '$T/rc/logs/errors.log' 2>/dev/null"
if [ $rc -ne 0 ]; then
    for f in "$T"/rc/logs/* "$T"/rc/php.log; do
        [ -f "$f" ] && { t_log "== $f"; tail -n 20 "$f" >&2; }
    done
fi
t_summary
