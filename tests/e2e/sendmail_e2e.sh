#!/bin/bash
# e2e/sendmail: the shared end-to-end scenarios (scenarios.sh, the same ones
# e2e/postfix runs) through a private Sendmail 8.17 (tests/lib/sendmail.sh).
#
# First the adapter on its own, without the milter binary:
#   - mail flows: one SMTP transaction to two local users gives two files,
#     each with Sendmail's Received line and that transaction's queue id;
#   - a second client address (127.0.0.2) is accepted like the first;
#   - b.example is local too, other domains are discarded and counted;
#   - the milter line from packaging/sendmail/mailstate.mc pointing at a
#     socket nobody listens on: mail still passes (no F= flag);
#   - mta_stop leaves no Sendmail process behind.
# Then, with the real mailstate-milter: SMTP AUTH (Sendmail sends
# {auth_authen} at MAIL FROM) makes an internal sender from an untrusted
# address in-system; the read scenario (scenario_read.sh: read notification
# -> the tracker shows read); then scenarios_run.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/sendmail.sh"
. "$here/scenarios.sh"
# The read scenario needs the tracker; it is skipped only while the tree has
# no mailstate-tracker target (then CTest passes an empty TRACKER_BIN).
if [ -n "${TRACKER_BIN:-}" ] && [ -f "$here/../lib/tracker.sh" ]; then
    . "$here/../lib/tracker.sh"
    . "$here/scenario_read.sh"
else
    sc_read_run() { t_log "read scenario skipped: no mailstate-tracker in this tree"; }
fi
t_init e2e-sendmail

# Processes in Sendmail's UTS namespace (see sendmail.sh).
sm_left() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/uts" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
    done
}

sm_adapter() {
    local b c d qb qc qd ns
    mta_start "$T/plain" "$(t_port)" "" || { t_fail "adapter: Sendmail start"; return 1; }
    t_check "adapter: 250 for two recipients" mta_send alice@a.example bob@a.example carol@a.example
    t_check "adapter: two deliveries logged" mta_wait_delivered 2
    b=$(mta_messages bob) c=$(mta_messages carol)
    t_check "adapter: one file each for bob and carol" \
        [ "$(grep -c . <<<"$b")" = 1 -a "$(grep -c . <<<"$c")" = 1 ]
    qb=$(mta_queue_id "$b") qc=$(mta_queue_id "$c")
    t_check "adapter: queue id ($qb) of the transaction in both copies" \
        eval '[[ $qb =~ ^[0-9A-Za-z]{14}$ ]] && [ "$qb" = "$qc" ]'
    t_check "adapter: Received names client 127.0.0.1" grep -q '^Received: from .*127\.0\.0\.1' "$b"
    t_check "adapter: nothing for users not addressed" \
        [ -z "$(mta_messages alice)$(mta_messages dave)" ]

    # Bad input: a Received line a client made up, naming our host and an id,
    # must not fool mta_queue_id.
    t_check "adapter: client 127.0.0.2 accepted" \
        mta_send alice@a.example dave@a.example -- --local-interface 127.0.0.2 \
        --add-header 'Received: from evil by mx1.a.example with ESMTP id FORGEDFORGED01'
    t_check "adapter: third delivery" mta_wait_delivered 3
    d=$(mta_messages dave)
    qd=$(mta_queue_id "$d")
    t_check "adapter: queue id ($qd) from Sendmail's own line, not the forged one" \
        eval '[[ $qd =~ ^[0-9A-Za-z]{14}$ ]] && [ "$qd" != FORGEDFORGED01 ] && [ "$qd" != "$qb" ]'
    t_check "adapter: Received names client 127.0.0.2" grep -q '127\.0\.0\.2' "$d"

    t_check "adapter: b.example and c.example accepted" \
        mta_send carol@a.example dave@b.example x@c.example
    t_check "adapter: b.example and c.example deliveries logged" mta_wait_delivered 5
    t_check "adapter: dave@b.example stored with dave" [ "$(mta_messages dave | grep -c .)" = 2 ]
    t_check "adapter: x@c.example discarded by the ext mailer" \
        grep -q '^external x@c.example' "$MTA_DIR/delivered.log"

    ns=$MTA_NS
    mta_stop
    t_check "adapter: mta_stop leaves no process" [ -z "$(sm_left "$ns")" ]

    # Bad input: the milter line pointing at a socket nobody listens on.
    mta_start "$T/down" "$(t_port)" "unix:$T/nobody-listens.sock" ||
        { t_fail "adapter: Sendmail start (milter down)"; return 1; }
    t_check "adapter: sendmail.cf has the milter line of packaging/sendmail/mailstate.mc" \
        grep -q "^Xmailstate, S=unix:$T/nobody-listens.sock, T=" "$T/down/sendmail.cf"
    t_check "adapter: accepted with the milter socket dead" mta_send alice@a.example bob@a.example
    t_check "adapter: delivered with the milter socket dead" mta_wait_delivered 1
    mta_stop
}

# sm_smtp PORT FROM RCPT SUBJECT [AUTH]: one transaction from 127.0.0.2 with
# Python's smtplib (swaks has no SASL ANONYMOUS), optionally after
# AUTH ANONYMOUS.
sm_smtp() {
    /usr/bin/python3 - "$@" <<'EOF'
import base64, smtplib, sys
port, frm, rcpt, subject = sys.argv[1:5]
s = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test",
                 source_address=("127.0.0.2", 0), timeout=30)
s.ehlo()
if len(sys.argv) > 5:
    code, msg = s.docmd("AUTH", "ANONYMOUS " + base64.b64encode(b"e2e").decode())
    if code != 235:
        sys.exit("AUTH: %d %s" % (code, msg))
s.sendmail(frm, [rcpt], "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nauth test\r\n"
           % (frm, rcpt, subject))
s.quit()
EOF
}

# SMTP AUTH from an untrusted client address: Sendmail's default macros
# carry {auth_authen}; the milter must take that as "authenticated".
# Bad input alongside: the same sender and address without AUTH.
# The only SASL mechanism that needs no password database (and no
# Sendmail.conf under /etc) is ANONYMOUS; the milter sees
# {auth_authen}=anonymous, which is all that matters to it.
sm_auth() {
    local f v qid
    SC_STORE=$T/auth-store
    # The login ANONYMOUS gives is "anonymous": allowed to send as alice by a
    # sender_login_maps file (SMTP AUTH must match MAIL FROM, issue 14).
    printf 'alice@a.example anonymous\n' > "$T/login.map"
    MILTER_MILTER_EXTRA="sender_login_maps = $T/login.map" \
        milter_conf "$T/auth-milter.conf" "unix:$T/auth-milter.sock" "$SC_STORE"
    milter_start "$T/auth-milter.conf" || { t_fail "auth: milter start"; return 1; }
    SM_MC_EXTRA="define(\`confAUTH_MECHANISMS', \`ANONYMOUS')dnl"
    mta_start "$T/auth" "$(t_port)" "unix:$T/auth-milter.sock" ||
        { SM_MC_EXTRA=; t_fail "auth: Sendmail start"; return 1; }
    SM_MC_EXTRA=
    t_check "auth: sent without AUTH from 127.0.0.2" \
        sm_smtp "$MTA_PORT" alice@a.example bob@a.example sm-noauth
    t_check "auth: sent with AUTH ANONYMOUS from 127.0.0.2" \
        sm_smtp "$MTA_PORT" alice@a.example bob@a.example sm-auth yes
    if f=$(sc_wait bob sm-noauth); then
        t_check "auth: without AUTH, untrusted client: not tagged" [ "$(sc_count "$f" X-Mail-Id)" = 0 ]
    else
        t_fail "auth: unauthenticated mail delivered"
    fi
    if f=$(sc_wait bob sm-auth); then
        t_check "auth: with AUTH: one X-Mail-Id" [ "$(sc_count "$f" X-Mail-Id)" = 1 ]
        t_check "auth: with AUTH: X-Sender alice" [ "$(t_header "$f" X-Sender)" = alice@a.example ]
        v=$(t_header "$f" X-Mail-Id)
        qid=$(mta_queue_id "$f")
        t_check "auth: mail log has bob as sent, Sendmail queue id $qid" \
            eval 'sc_show "$v" | grep -q "^rcpt bob@a.example mx1 sent$" &&
                  sc_show "$v" | grep -q "queue_id=$qid "'
    else
        t_fail "auth: authenticated mail delivered"
    fi
    mta_stop
    milter_stop || t_fail "auth: milter exit status after SIGTERM"
}

sm_adapter
sm_auth
sc_read_run
scenarios_run
