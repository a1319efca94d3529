#!/bin/bash
# "received" at delivery (issue 11 item 1): the plugin, loaded for lmtp,
# reports each delivered mail carrying X-Mail-Id with the final recipient
# and the address the envelope named (ORCPT, else RCPT TO), and never delays
# or fails the delivery.  Real Dovecot LMTP, real plugin.
#
# The tracker's side of "received"/original_recipient is being written at
# the same time (the tracker on main answers 400 for them), so the plugin's
# outgoing requests are checked at recorder.py, a stand-in that records
# them; the spool, the replay and the delivery results are Dovecot's own.
#
# Environment (CTest sets it): SEED_BIN, DOVECOT_PLUGIN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/dovecot.sh"

t_init dovecot-received
SEED_BIN=${SEED_BIN:?SEED_BIN not set}
t_key "$T/system.key"

REC_LOG=$T/requests.jsonl
REC_MODE=$T/mode
REC_PID=
rport=$(t_port)
: > "$REC_LOG"

recorder_start() {
    /usr/bin/python3 "$here/recorder.py" "$rport" "$REC_LOG" "$REC_MODE" &
    REC_PID=$!
    t_wait t_port_open "$rport"
}
recorder_stop() {
    [ -n "$REC_PID" ] || return 0
    kill "$REC_PID" 2>/dev/null
    wait "$REC_PID" 2>/dev/null
    REC_PID=
}
t_defer recorder_stop

seed_mail() {
    "$SEED_BIN" -d "$T/store" -k "$T/system.key" -s alice@a.example -r "$1"
}

# deliver MAIL_ID SUBJECT [RCPT[;ORCPT]]... : one LMTP transaction; prints
# "delivered N" (recipients accepted) or fails.  EXTRA_HDRS go in as is.
deliver() {
    /usr/bin/python3 - "$DOVECOT_LMTP" "$@" <<'EOF'
import os, smtplib, sys
sock, mail_id, subject = sys.argv[1:4]
hdrs = "From: alice@a.example\r\nTo: team@a.example\r\nSubject: %s\r\n" % subject
hdrs += os.environ.get("EXTRA_HDRS", "")
if mail_id != "-":
    hdrs += "X-Mail-Id: %s\r\nX-Sender: alice@a.example\r\n" % mail_id
lmtp = smtplib.LMTP(sock)
lmtp.ehlo_or_helo_if_needed()
lmtp.mail("alice@a.example")
rcpts = []
for arg in sys.argv[4:]:
    rcpt, _, orcpt = arg.partition(";")
    opts = ["ORCPT=rfc822;" + orcpt] if orcpt else []
    code, msg = lmtp.rcpt(rcpt, opts)
    if code != 250:
        raise SystemExit("RCPT %s: %d %s" % (arg, code, msg))
    rcpts.append(rcpt)
lmtp.putcmd("data")
code, msg = lmtp.getreply()
if code != 354:
    raise SystemExit("DATA: %d %s" % (code, msg))
lmtp.send(smtplib.quotedata(hdrs + "\r\nhello\r\n").encode() + b"\r\n.\r\n")
ok = 0
for rcpt in rcpts:          # LMTP: one reply per recipient
    code, msg = lmtp.getreply()
    if code != 250:
        raise SystemExit("DATA for %s: %d %s" % (rcpt, code, msg))
    ok += 1
lmtp.quit()
print("delivered %d" % ok)
EOF
}

# sent_is ID RCPT FIELD=VALUE...: the recorder got a "received" for mail ID
# and final recipient RCPT with these fields ("original_recipient=" = absent).
sent_is() {
    /usr/bin/python3 - "$REC_LOG" "$@" <<'EOF'
import json, sys
log, mail_id, rcpt = sys.argv[1:4]
want = dict(a.split("=", 1) for a in sys.argv[4:])
for line in open(log):
    req = json.loads(line)
    body = json.loads(req["body"])
    if body.get("mail_id") != mail_id or body.get("recipient") != rcpt:
        continue
    if body.get("event") != "received" or req["path"] != "/v1/reads":
        continue
    if all(body.get(k, "") == v for k, v in want.items()):
        sys.exit(0)
sys.exit(1)
EOF
}
# n_sent ID: requests the recorder got for mail ID
n_sent() { grep -cF "${1}" "$REC_LOG"; }
n_sent_is() { [ "$(n_sent "$1")" -eq "$2" ]; }
spool_has() { grep -qF "$2" "$(dovecot_spool "$1")"/*.json 2>/dev/null; }
spool_n() { [ "$(find "$(dovecot_spool "$1")" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l)" -eq "$2" ]; }

recorder_start || { t_fail "recorder starts"; t_summary; exit 1; }
dovecot_start "http://127.0.0.1:$rport" notify-token-for-lmtp || {
    t_fail "dovecot starts"; t_summary; exit 1; }

m_plain=$(seed_mail bob@a.example)
m_plus=$(seed_mail bob+news@a.example)
m_list=$(seed_mail team@a.example)
m_forged=$(seed_mail bob@a.example)
[ -n "$m_plain" ] && [ -n "$m_list" ] || { t_fail "seed mails"; t_summary; exit 1; }

# --- 1. a delivery to bob: received, final recipient, no original.
t_check "delivery to bob accepted" deliver "$m_plain" plain bob@a.example
t_check "received sent for bob via lmtp" \
    t_wait sent_is "$m_plain" bob@a.example via=lmtp original_recipient= \
        sender=alice@a.example
t_check "with the plugin's token" \
    grep -qF '"auth": "Bearer notify-token-for-lmtp"' "$REC_LOG"
t_check "with the delivery's time" \
    bash -c "grep -F '$m_plain' '$REC_LOG' | grep -qE '\\\\\"time\\\\\":\\\\\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z'"

# --- 2. bob+news@: the user is bob, the envelope named the extension.
t_check "delivery to bob+news accepted" deliver "$m_plus" plus bob+news@a.example
t_check "received names bob+news as the original recipient" \
    t_wait sent_is "$m_plus" bob@a.example original_recipient=bob+news@a.example

# --- 3. a list: Postfix expanded team@ to bob and dave and sent ORCPT.
# Two recipients in one transaction (Dovecot saves the second from the
# first one's copy).
t_check "list delivery to bob and dave accepted" \
    deliver "$m_list" list "bob@a.example;team@a.example" "dave@a.example;team@a.example"
t_check "received for bob with ORCPT team@" \
    t_wait sent_is "$m_list" bob@a.example original_recipient=team@a.example
t_check "received for dave with ORCPT team@" \
    t_wait sent_is "$m_list" dave@a.example original_recipient=team@a.example
t_check "one received per recipient" n_sent_is "$m_list" 2

# --- 4. bad input: the sender writes Delivered-To / X-Original-To headers
# naming carol, hoping to be recorded as a list carol's entry expands; the
# plugin takes the original recipient from the envelope only.
EXTRA_HDRS=$'Delivered-To: carol@a.example\r\nX-Original-To: carol@a.example\r\n' \
    deliver "$m_forged" forged bob@a.example > /dev/null || t_fail "forged-header delivery"
t_check "forged headers do not become the original recipient" \
    t_wait sent_is "$m_forged" bob@a.example original_recipient=
t_check "carol named nowhere" bash -c "! grep -F '$m_forged' '$REC_LOG' | grep -qF carol"

# --- 5. a mail without X-Mail-Id: delivered, nothing sent.  The marker
# delivered after it shows the plugin had its chance.
m_marker=$(seed_mail bob@a.example)
n_before=$(wc -l < "$REC_LOG")
deliver - untagged bob@a.example > /dev/null || t_fail "untagged delivery"
deliver "$m_marker" marker bob@a.example > /dev/null || t_fail "marker delivery"
t_check "marker received" t_wait n_sent_is "$m_marker" 1
t_check "nothing sent for the untagged mail" \
    test "$(wc -l < "$REC_LOG")" -eq $((n_before + 1))

# --- 6. the tracker drops the event with a 4xx: its error and detail are
# logged at info (not debug).
echo 404 > "$REC_MODE"
m_404=$(seed_mail bob@a.example)
deliver "$m_404" e404 bob@a.example > /dev/null || t_fail "404 delivery"
t_check "the tracker's reason logged at info" \
    t_wait bash -c "grep -F '${m_404}' '$DOVECOT_LOG' | grep -F ' Info: ' | grep -F 'mailstate: tracker does not know the mail (404)' | grep -qF 'error=recipient_not_found detail=\"no entry for this recipient\"'"
echo 200 > "$REC_MODE"

# --- 7. tracker down: the delivery succeeds at once and "received" waits
# in the user's spool, original recipient included; the next session of
# the user replays it.
recorder_stop
m_down=$(seed_mail team@a.example)
t_check "delivery with the tracker down accepted" \
    deliver "$m_down" down "bob@a.example;team@a.example"
t_check "received spooled" t_wait spool_has bob "$m_down"
t_check "spooled with its original recipient" \
    spool_has bob '"original_recipient":"team@a.example"'
recorder_start || t_fail "recorder restarts"
dovecot_imap bob sleep:0.3 > /dev/null || t_fail "bob's IMAP session"
t_check "spooled received replayed with its original recipient" \
    t_wait sent_is "$m_down" bob@a.example via=lmtp original_recipient=team@a.example
t_check "spool empty after the replay" t_wait spool_n bob 0

# --- 8. a tracker that accepts the connection and never answers: the
# delivery still succeeds (the wait is bounded by mailstate_timeout, 3 s
# here) and the event is spooled.
echo hang > "$REC_MODE"
m_hang=$(seed_mail bob@a.example)
t_check "delivery with a hanging tracker accepted" \
    deliver "$m_hang" hang bob@a.example
t_check "received spooled after the bounded wait" t_wait spool_has bob "$m_hang"
echo 200 > "$REC_MODE"

# --- 9. dovecot-lda (Postfix pipe or mailbox_command): -a is the address
# the envelope named (Postfix: ${original_recipient}).
m_lda=$(seed_mail team@a.example)
lda() {
    printf 'From: alice@a.example\r\nSubject: lda\r\nX-Mail-Id: %s\r\nX-Sender: alice@a.example\r\n\r\nhello\r\n' "$m_lda" |
    /usr/lib/dovecot/dovecot-lda -c "$DOVECOT_DIR/dovecot.conf" \
        -d bob@a.example -a team@a.example -f alice@a.example
}
t_check "dovecot-lda delivery succeeds" lda
t_check "received via lda with the original recipient" \
    t_wait sent_is "$m_lda" bob@a.example via=lda original_recipient=team@a.example

t_check "every delivery saved (10 mails in bob's INBOX)" \
    bash -c "[ \$(ls '$DOVECOT_DIR/home/bob/Maildir/new' '$DOVECOT_DIR/home/bob/Maildir/cur' 2>/dev/null | grep -c '^[0-9]') -eq 10 ]"
t_check "no panic or fatal error in Dovecot's log" \
    bash -c "! grep -q 'Panic:\|Fatal:' '$DOVECOT_LOG'"
t_summary
