#!/bin/bash
# The Dovecot plugin against the real tracker (issue 7 §4, §5).
#
# A private Dovecot (LMTP in, IMAP out, our plugin) and a private
# mailstate-tracker; mails are recorded in the tracker's log with the seed
# tool (as the milter would), delivered over LMTP carrying their X-Mail-Id,
# then read or deleted over IMAP.  Every case checks the tracker's answer to
# GET /v1/mails/ID, the plugin's log lines, or the spool directory.
#
# Environment (CTest sets it): TRACKER_BIN, SEED_BIN, DOVECOT_PLUGIN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/tracker.sh"
. "$here/../lib/dovecot.sh"

t_init dovecot-plugin
SEED_BIN=${SEED_BIN:?SEED_BIN not set}

# "STATUS VIA" of RCPT in mail ID, as the tracker reports it.
rcpt_state() {
    curl -sS --max-time 10 -H "Authorization: Bearer $TRACKER_TOKEN_QUERY" \
        "$TRACKER_URL/v1/mails/${1%%.*}" |
    /usr/bin/python3 -c '
import json, sys
rcpt = sys.argv[1]
try:
    mail = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for r in mail.get("recipients", []):
    if r.get("address") == rcpt:
        print(r.get("status"), r.get("via", "-"), r.get("read_count", 0))' "$2"
}

# state_is ID RCPT STATUS [VIA]
state_is() {
    local got
    got=$(rcpt_state "$1" "$2") || return 1
    case $got in
        "$3${4:+ $4}"*) return 0 ;;
        *) return 1 ;;
    esac
}

# A mail recorded for RCPT in the tracker's log: prints its X-Mail-Id value.
seed_mail() {
    "$SEED_BIN" -d "$T/store" -k "$T/system.key" -s alice@a.example -r "$1"
}

# spool_is USER N: USER's spool holds N events (claimed ones included).
spool_is() {
    [ "$(find "$(dovecot_spool "$1")" -maxdepth 1 -name '*.json*' ! -name '.*' 2>/dev/null | wc -l)" -eq "$2" ]
}

# spool_unclaimed USER N: N event files, none claimed.
spool_unclaimed() {
    local d
    d=$(dovecot_spool "$1")
    [ "$(find "$d" -maxdepth 1 -name '*.json' | wc -l)" -eq "$2" ] &&
    [ "$(find "$d" -maxdepth 1 -name '*.json.*' | wc -l)" -eq 0 ]
}

# n_read_is N ID...: exactly N of the mails are read by their recipient
# dave (a full spool drops whichever event came last).
n_read_is() {
    local want=$1 id n=0
    shift
    for id in "$@"; do
        state_is "$id" dave@a.example read && n=$((n + 1))
    done
    [ "$n" -eq "$want" ]
}

# The plugin logged a line with both ID and TEXT in an imap process (the
# LMTP deliveries report "received" for the same ids; see received.sh).
logged() {
    grep -F "imap(" "$DOVECOT_LOG" | grep -F "$1" | grep -qF "$2"
}

tport=$(t_port)
tracker_conf "$T/tracker.conf" "$tport"
tracker_start "$T/tracker.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
# dave's spool holds at most 2 events; alice's recipient template is broken
# on purpose (userdb extra fields override the plugin settings per user).
DOVECOT_EXTRA[dave]=userdb_mailstate_spool_max=2
DOVECOT_EXTRA[alice]=userdb_mailstate_recipient=alice
dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" || {
    t_fail "dovecot starts"; t_summary; exit 1; }

m_store=$(seed_mail bob@a.example)
m_fetch=$(seed_mail bob@a.example)
m_peek=$(seed_mail bob@a.example)
m_down=$(seed_mail bob@a.example)
m_expunge=$(seed_mail bob@a.example)
m_trash=$(seed_mail bob@a.example)
m_archive=$(seed_mail bob@a.example)
m_other=$(seed_mail bob@a.example)
# A valid id and MAC that this tracker never recorded: its answer is 404.
m_unknown=$("$SEED_BIN" -d "$T/otherstore" -k "$T/system.key" -s alice@a.example -r bob@a.example)
# A well-formed id whose tag was not made with the system key: 403.
m_forged="${m_other%%.*}.0000000000000000"
[ -n "$m_store" ] && [ -n "$m_unknown" ] || { t_fail "seed mails"; t_summary; exit 1; }

for s in store fetch peek down expunge trash archive unknown forged; do
    v=m_$s
    dovecot_deliver bob@a.example "$s" "${!v}" alice@a.example
done
dovecot_deliver bob@a.example plain        # no mailstate headers at all
dovecot_deliver bob@a.example junk "not-a-mail-id" alice@a.example

# --- 1. STORE \Seen and FETCH BODY[] are reads; BODY.PEEK[] is not.
dovecot_imap bob seen:store fetch:fetch peek:peek sleep:0.3 > "$T/imap1.out" ||
    t_fail "IMAP session 1: $(cat "$T/imap1.out")"
t_check "STORE +FLAGS (\\Seen) recorded read via imap" \
    t_wait state_is "$m_store" bob@a.example read imap
t_check "FETCH BODY[] recorded read via imap" \
    t_wait state_is "$m_fetch" bob@a.example read imap
t_check "FETCH BODY.PEEK[] sent no event" \
    bash -c "! grep -F 'imap(' '$DOVECOT_LOG' | grep -qF '${m_peek%%.*}'"
t_check "FETCH BODY.PEEK[] left the mail received (LMTP), not read" state_is "$m_peek" bob@a.example "received lmtp"

# --- 2. Bad input: dropped (not recorded, not spooled), each with its reason.
dovecot_imap bob seen:unknown seen:forged seen:plain seen:junk sleep:0.3 \
    > "$T/imap2.out" || t_fail "IMAP session 2: $(cat "$T/imap2.out")"
# bad input: a genuine id the tracker never recorded -> 404, dropped quietly
t_check "unknown mail (404) dropped" \
    t_wait logged "${m_unknown%%.*}" "does not know the mail (404), dropped"
# bad input: a tag not made with the system key -> 403, dropped with an error
t_check "forged id (403) dropped with an error" \
    t_wait logged "${m_forged%%.*}" "refused the event (403"
t_check "forged id did not touch the real mail" state_is "$m_other" bob@a.example sent
# bad input: no X-Mail-Id at all, and a malformed one -> nothing sent
t_check "malformed X-Mail-Id ignored" \
    grep -q "malformed X-Mail-Id header ignored" "$DOVECOT_LOG"
t_check "nothing spooled for bad input" spool_is bob 0

# --- 3. Tracker down: the read is spooled; tracker back: replayed once.
tracker_stop
dovecot_imap bob seen:down > "$T/imap3.out" ||
    t_fail "IMAP session 3: $(cat "$T/imap3.out")"
t_check "read spooled while the tracker is down" t_wait spool_is bob 1
t_check "the spool file holds that read" \
    grep -qF "\"mail_id\":\"$m_down\"" "$(dovecot_spool bob)"/*.json
t_check "spool file is the mail user's" \
    test "$(stat -c %U "$(dovecot_spool bob)")" = nobody
tracker_start "$T/tracker.conf" || t_fail "tracker restarts"
t_check "not recorded before a new session" state_is "$m_down" bob@a.example "received lmtp"
dovecot_imap bob sleep:0.3 > /dev/null || t_fail "IMAP session 4"
t_check "spooled read replayed at the next login" \
    t_wait state_is "$m_down" bob@a.example read imap
t_check "spool empty after the replay" t_wait spool_is bob 0
t_check "replayed read counted once" state_is "$m_down" bob@a.example "read imap 1"

# --- 3b. Bad input: the tracker refuses the plugin's token - unknown (401),
# or known without the notify scope (403 with a Bearer challenge), e.g.
# halfway through a token change.  A configuration to fix, not a bad event:
# the read is spooled, not dropped, and recorded once the token is right.
m_tok=$(seed_mail bob@a.example)
m_scope=$(seed_mail bob@a.example)
dovecot_deliver bob@a.example tok "$m_tok" alice@a.example
dovecot_deliver bob@a.example scope "$m_scope" alice@a.example
tracker_stop
TRACKER_TOKEN_NOTIFY=another-notify-secret-0123456789 \
    tracker_conf "$T/tracker-401.conf" "$tport"
tracker_start "$T/tracker-401.conf" || t_fail "tracker restarts without the token"
dovecot_imap bob seen:tok sleep:0.3 > "$T/imap3b.out" ||
    t_fail "IMAP session 3b: $(cat "$T/imap3b.out")"
t_check "read refused with 401 spooled, not dropped" t_wait spool_is bob 1
tracker_stop
TRACKER_TOKEN_QUERY=$TRACKER_TOKEN_NOTIFY TRACKER_TOKEN_NOTIFY=another-notify-secret-0123456789 \
    tracker_conf "$T/tracker-403.conf" "$tport"
tracker_start "$T/tracker-403.conf" || t_fail "tracker restarts with a query-only token"
dovecot_imap bob seen:scope sleep:0.3 > "$T/imap3c.out" ||
    t_fail "IMAP session 3c: $(cat "$T/imap3c.out")"
t_check "read refused with 403 (scope) spooled, not dropped" t_wait spool_is bob 2
tracker_stop
tracker_start "$T/tracker.conf" || t_fail "tracker restarts with the token"
dovecot_imap bob sleep:0.3 > /dev/null || t_fail "IMAP session 3d"
t_check "the 401 read recorded once the token is right" \
    t_wait state_is "$m_tok" bob@a.example "read imap 1"
t_check "the 403 read recorded once the token is right" \
    t_wait state_is "$m_scope" bob@a.example "read imap 1"
t_check "spool empty after the token is fixed" t_wait spool_is bob 0

# A claim left by an imap process that died (NAME.json.PID, PID gone) is
# taken back and sent at the next login.
m_claim=$(seed_mail bob@a.example)
sleep 0 & dead=$!
wait "$dead"
claim="$(dovecot_spool bob)/0001795800000000-$dead-1.json.$dead"
printf '{"mail_id":"%s","sender":"alice@a.example","recipient":"bob@a.example","via":"imap","event":"read","time":"%s"}' \
    "$m_claim" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" > "$claim"
chown nobody "$claim"
# bad input in the spool: an empty event file and one over 8 KiB
: > "$(dovecot_spool bob)/0001795800000001-1-1.json"
head -c 9000 /dev/zero | tr '\0' x > "$(dovecot_spool bob)/0001795800000002-1-1.json"
chown nobody "$(dovecot_spool bob)"/*.json
dovecot_imap bob sleep:0.3 > /dev/null || t_fail "IMAP session 4b"
t_check "a dead process's claim is replayed" \
    t_wait state_is "$m_claim" bob@a.example read imap
t_check "empty and oversized spool files set aside, not replayed" \
    t_wait test -f "$(dovecot_spool bob)/.bad-0001795800000001-1-1.json" -a \
                -f "$(dovecot_spool bob)/.bad-0001795800000002-1-1.json"
t_check "spool empty after the stale claim" t_wait spool_is bob 0

# --- 4. Deleted unread: \Deleted + EXPUNGE, MOVE to \Trash; MOVE to another
# folder is not a deletion; a read mail stays read when deleted.
dovecot_imap bob delete:expunge move:trash:Trash move:archive:Archive \
    delete:store sleep:0.3 > "$T/imap5.out" ||
    t_fail "IMAP session 5: $(cat "$T/imap5.out")"
t_check "expunged unseen -> deleted_unread" \
    t_wait state_is "$m_expunge" bob@a.example deleted_unread imap
t_check "moved to Trash unseen -> deleted_unread" \
    t_wait state_is "$m_trash" bob@a.example deleted_unread imap
t_check "moved to Archive stays received" state_is "$m_archive" bob@a.example "received lmtp"
t_check "deleting a read mail keeps it read" state_is "$m_store" bob@a.example read

# --- 5. Opt-out (carol in the tracker's config): 200, nothing recorded,
# nothing spooled.
c1=$(seed_mail carol@a.example)
dovecot_deliver carol@a.example c1 "$c1" alice@a.example
dovecot_imap carol seen:c1 sleep:0.3 > /dev/null || t_fail "IMAP session 6"
t_check "opt-out read acknowledged" t_wait logged "${c1%%.*}" "tracker recorded"
t_check "opt-out read not recorded" state_is "$c1" carol@a.example sent
t_check "opt-out read not spooled" spool_is carol 0

# --- 6. Spool bound: dave may spool 2 events; the third is lost, loudly.
d1=$(seed_mail dave@a.example)
d2=$(seed_mail dave@a.example)
d3=$(seed_mail dave@a.example)
for s in d1 d2 d3; do
    dovecot_deliver dave@a.example "$s" "${!s}" alice@a.example
done
tracker_stop
dovecot_imap dave seen:d1 seen:d2 seen:d3 sleep:0.5 > "$T/imap7.out" ||
    t_fail "IMAP session 7: $(cat "$T/imap7.out")"
t_check "spool bounded at mailstate_spool_max=2" t_wait spool_is dave 2
t_check "overflow logged as lost" \
    t_wait grep -q "is full (2 files), event lost" "$DOVECOT_LOG"
# A login while the tracker is still down: the replay fails and returns
# both files to the spool, no claim left behind.
dovecot_imap dave sleep:0.5 > /dev/null || t_fail "IMAP session 7b"
t_check "replay attempted with the tracker down" \
    t_wait grep -q "replaying 2 spooled events from $(dovecot_spool dave)" "$DOVECOT_LOG"
t_check "failed replay returns the files unclaimed" t_wait spool_unclaimed dave 2
tracker_start "$T/tracker.conf" || t_fail "tracker restarts"
dovecot_imap dave sleep:0.3 > /dev/null || t_fail "IMAP session 7c"
t_check "the two spooled reads recorded once the tracker is back" \
    t_wait n_read_is 2 "$d1" "$d2" "$d3"
t_check "dave's spool empty" t_wait spool_is dave 0

# --- 7. Bad input: a recipient template that is not an address disables the
# plugin for that user, with an error.
a1=$(seed_mail alice@a.example)
dovecot_deliver alice@a.example a1 "$a1" alice@a.example
dovecot_imap alice seen:a1 > /dev/null || t_fail "IMAP session 8"
t_check "bad recipient template refused with an error" \
    t_wait grep -q "mailstate_recipient=alice: not a local@domain address" "$DOVECOT_LOG"
t_check "no event from the disabled user" state_is "$a1" alice@a.example sent

t_check "no panic or fatal error in Dovecot's log" \
    bash -c "! grep -q 'Panic:\|Fatal:' '$DOVECOT_LOG'"
t_summary
