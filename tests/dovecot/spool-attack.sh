#!/bin/bash
# The spool is not a way in (issue 14 item 1): a mail user can write into
# their own ~/mailstate-spool (shell, SFTP), so its files are input.  Each
# case drops something into bob's spool, lets bob log in over IMAP (the
# replay runs at login) and checks the tracker's log (GET /v1/mails/ID) and
# the plugin's log.  Real Dovecot, real plugin, real mailstate-tracker.
#
# Environment (CTest sets it): TRACKER_BIN, SEED_BIN, DOVECOT_PLUGIN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/tracker.sh"
. "$here/../lib/dovecot.sh"

t_init dovecot-spool-attack
SEED_BIN=${SEED_BIN:?SEED_BIN not set}

# "STATUS VIA COUNT" of RCPT in mail ID, as the tracker reports it.
rcpt_state() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TRACKER_TOKEN_QUERY" \
        "$TRACKER_URL/v1/mails/${1%%.*}" |
    /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin).get("recipients", []):
    if r.get("address") == sys.argv[1]:
        print(r.get("status"), r.get("via", "-"), r.get("read_count", 0))' "$2"
}
state_is() { [ "$(rcpt_state "$1" "$2")" = "$3" ]; }
seed_mail() {
    "$SEED_BIN" -d "$T/store" -k "$T/system.key" -s alice@a.example "${@/#/-r}"
}
# spool_file USER NAME JSON: a file as the user would drop it (owned by the
# mail user, like everything the user writes).
spool_file() {
    local d
    d=$(dovecot_spool "$1")
    mkdir -p "$d" && chown nobody:nogroup "$d" && chmod 0700 "$d"
    printf '%s' "$3" > "$d/$2"
    chown nobody:nogroup "$d/$2"
}
logged() { grep -F "$1" "$DOVECOT_LOG" | grep -qF "$2"; }
# A login must not hang: the whole IMAP session is bounded.
login() {
    timeout 30 /usr/bin/python3 "$here/imap.py" 127.0.0.1 "$DOVECOT_PORT" \
        "$1@a.example" secret sleep:0.3 > /dev/null
}

now() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }

tport=$(t_port)
tracker_conf "$T/tracker.conf" "$tport"
# carol must be a recipient whose reads count (the sample opts her out).
sed -i '/^opt_out/d' "$T/tracker.conf"
tracker_start "$T/tracker.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" || {
    t_fail "dovecot starts"; t_summary; exit 1; }

m_carol=$(seed_mail carol@a.example)
m_both=$(seed_mail bob@a.example carol@a.example)
m_fifo=$(seed_mail bob@a.example)
m_link=$(seed_mail carol@a.example)
[ -n "$m_carol" ] && [ -n "$m_both" ] && [ -n "$m_link" ] ||
    { t_fail "seed mails"; t_summary; exit 1; }

# --- 1. attack: bob writes a spool file naming carol as the recipient of a
# mail sent to carol only, backdated to before the mail existed.  Refused
# for its time; carol's entry stays sent.
spool_file bob 0000000000001-1-1.json \
    "{\"mail_id\":\"$m_carol\",\"sender\":\"alice@a.example\",\"recipient\":\"carol@a.example\",\"via\":\"imap\",\"event\":\"read\",\"time\":\"2001-01-01T00:00:00.000Z\"}"
# attack: the same with a plausible time, for a mail sent to bob and carol.
# The replay rebuilds the request for bob (the session's own recipient):
# bob's entry becomes read, carol's stays sent.
spool_file bob 0000000000002-1-1.json \
    "{\"mail_id\":\"$m_both\",\"sender\":\"alice@a.example\",\"recipient\":\"carol@a.example\",\"via\":\"imap\",\"event\":\"read\",\"time\":\"$(now)\"}"
# attack: carol's recipient smuggled in through a field the plugin does not
# send for reads (original_recipient): refused.
spool_file bob 0000000000003-1-1.json \
    "{\"mail_id\":\"$m_carol\",\"sender\":\"alice@a.example\",\"original_recipient\":\"carol@a.example\",\"event\":\"read\",\"time\":\"$(now)\"}"
login bob || t_fail "bob's login with forged spool files"
t_check "backdated forged file refused for its time" \
    t_wait logged 0000000000001-1-1.json "time before the mail id's own time"
t_check "backdated forged file set aside, not replayed" \
    test -f "$(dovecot_spool bob)/.bad-0000000000001-1-1.json"
t_check "file naming carol replayed as bob's own read" \
    t_wait state_is "$m_both" bob@a.example "read imap 1"
t_check "the mismatch is logged" \
    logged 0000000000002-1-1.json "names recipient carol@a.example, not this user: replayed as bob@a.example"
t_check "original_recipient on a read refused" \
    t_wait logged 0000000000003-1-1.json "original_recipient not an address or not a delivery's"
t_check "carol's entry of the carol-only mail unchanged" state_is "$m_carol" carol@a.example "sent - 0"
t_check "carol's entry of the shared mail unchanged" state_is "$m_both" carol@a.example "sent - 0"

# --- 2. attack: a FIFO in the spool.  Opening it for reading without
# O_NONBLOCK would block the imap process (and so the login) until someone
# writes to it.  The login completes, the FIFO is set aside, and a genuine
# spooled read next to it is still delivered.
mkfifo "$(dovecot_spool bob)/0000000000004-1-1.json"
chown nobody:nogroup "$(dovecot_spool bob)/0000000000004-1-1.json"
spool_file bob 0000000000005-1-1.json \
    "{\"mail_id\":\"$m_fifo\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@a.example\",\"via\":\"imap\",\"event\":\"read\",\"time\":\"$(now)\"}"
t_check "login with a FIFO in the spool completes" login bob
t_check "the FIFO refused as not a regular file" \
    t_wait logged 0000000000004-1-1.json "not a regular file"
t_check "the FIFO set aside" test -p "$(dovecot_spool bob)/.bad-0000000000004-1-1.json"
t_check "the genuine read beside it recorded" \
    t_wait state_is "$m_fifo" bob@a.example "read imap 1"

# --- 3. attack: a symlink in bob's spool to a file in carol's spool (carol's
# genuine spooled read).  Following it would send carol's event from bob's
# session (as bob) and delete carol's file.  Refused, carol's file stays
# where it is, and carol's own login delivers it.
spool_file carol 0000000000006-1-1.json \
    "{\"mail_id\":\"$m_link\",\"sender\":\"alice@a.example\",\"recipient\":\"carol@a.example\",\"via\":\"imap\",\"event\":\"read\",\"time\":\"$(now)\"}"
ln -s "$(dovecot_spool carol)/0000000000006-1-1.json" \
    "$(dovecot_spool bob)/0000000000007-1-1.json"
chown -h nobody:nogroup "$(dovecot_spool bob)/0000000000007-1-1.json"
login bob || t_fail "bob's login with a symlink in the spool"
t_check "the symlink refused" t_wait logged 0000000000007-1-1.json "a symbolic link"
t_check "carol's file not read through the link" \
    test -f "$(dovecot_spool carol)/0000000000006-1-1.json"
t_check "carol's entry unchanged by bob's session" state_is "$m_link" carol@a.example "sent - 0"
login carol || t_fail "carol's login"
t_check "carol's own spooled read delivered by her session" \
    t_wait state_is "$m_link" carol@a.example "read imap 1"

# --- 4. attack: a spool directory that others can write to (a shared
# directory): not replayed at all.
spool_file bob 0000000000008-1-1.json \
    "{\"mail_id\":\"$m_both\",\"sender\":\"alice@a.example\",\"event\":\"read\",\"time\":\"$(now)\"}"
chmod 0777 "$(dovecot_spool bob)"
login bob || t_fail "bob's login with a world-writable spool"
t_check "a world-writable spool is refused" \
    t_wait logged "$(dovecot_spool bob)" "is not the mail user's own"
t_check "its file stays unsent" test -f "$(dovecot_spool bob)/0000000000008-1-1.json"
t_check "bob's read count unchanged" state_is "$m_both" bob@a.example "read imap 1"

t_check "no panic or fatal error in Dovecot's log" \
    bash -c "! grep -q 'Panic:\|Fatal:' '$DOVECOT_LOG'"
t_summary
