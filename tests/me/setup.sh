# setup.sh - the world of the issue-12 tests (sourced by api.sh, browser.sh):
# tracker with [auth] on Dovecot's auth socket, milter, a private Dovecot
# (LMTP, IMAP, auth), a private Postfix delivering over LMTP with SMTP AUTH
# through the same Dovecot.  Then three real mails:
#   M_ALICE  alice -> bob, dave   SMTP AUTH as alice@a.example from 127.0.0.2
#            (untrusted: only the login makes it internal), Message-ID <$MSGID_A>
#   M_BOB    bob -> alice         trusted network, no AUTH, Message-ID <$MSGID_B>
# and bob reads M_ALICE over IMAP (the plugin reports it).
# Sets M_ALICE, M_BOB (bare ids), MSGID_A, MSGID_B, PW (the users' password).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/tracker.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/postfix.sh"
. "$here/../lib/dovecot.sh"

PW=secret
MSGID_A="me-a.$$@mx1.a.example"
MSGID_B="me-b.$$@mx1.a.example"

me_world() {
    local f
    tport=$(t_port)
    # Dovecot first: the tracker's [auth] names its socket.
    DOVECOT_DIR=$T/dovecot
    TRACKER_CONF_TRACKER="www_dir = $WWW_DIR
${ME_PUBLIC_URL:+public_url = $ME_PUBLIC_URL}"
    tracker_conf "$T/tracker.conf" "$tport" "
[auth]
dovecot_socket = $T/dovecot/run/auth-mailstate
cache_ttl = 60s
admins = dave@a.example"
    tracker_start "$T/tracker.conf" || return 1
    dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" || return 1
    t_wait test -S "$DOVECOT_AUTH_SOCKET" || return 1
    milter_conf "$T/milter.conf" "unix:$T/milter.sock" "$T/store"
    # The page shows subjects when the system records them (browser.sh).
    [ -z "${ME_RECORD_SUBJECT:-}" ] ||
        sed -i 's/^trusted_networks.*/&\nrecord_subject = yes/' "$T/milter.conf"
    milter_start "$T/milter.conf" || return 1
    mta_start "$T/postfix" "$(t_port)" "unix:$T/milter.sock" || return 1
    mta_conf "local_transport = lmtp:unix:$DOVECOT_LMTP" \
             "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
             "smtpd_sasl_path = $DOVECOT_AUTH_SOCKET" \
             "smtpd_sasl_security_options = noanonymous" \
             "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" ||
        return 1
    mta_send alice@a.example bob@a.example dave@a.example -- --local-interface 127.0.0.2 \
        --auth PLAIN --auth-user alice@a.example --auth-password "$PW" \
        --header "Subject: Quarterly report" --header "Message-Id: <$MSGID_A>" || return 1
    mta_wait_delivered 2 || return 1
    mta_send bob@a.example alice@a.example -- \
        --header "Subject: Lunch on Friday?" --header "Message-Id: <$MSGID_B>" || return 1
    mta_wait_delivered 3 || return 1
    f=$(grep -l "Quarterly report" "$DOVECOT_DIR"/home/bob/Maildir/new/* | head -n1)
    M_ALICE=$(t_header "$f" X-Mail-Id)
    M_ALICE=${M_ALICE%%.*}
    f=$(grep -l "Lunch on Friday" "$DOVECOT_DIR"/home/alice/Maildir/new/* | head -n1)
    M_BOB=$(t_header "$f" X-Mail-Id)
    M_BOB=${M_BOB%%.*}
    [ -n "$M_ALICE" ] && [ -n "$M_BOB" ] || return 1
    dovecot_imap bob fetch:Quarterly sleep:0.3 > "$T/imap.out" || return 1
    t_wait me_bob_read
}

# bob's entry of M_ALICE is read (asked as alice, which also checks Basic).
me_bob_read() {
    curl -sS -u "alice@a.example:$PW" "$TRACKER_URL/v1/me/sent/$M_ALICE" |
        grep -q '"address":"bob@a.example","server":"mx1","status":"read"'
}
