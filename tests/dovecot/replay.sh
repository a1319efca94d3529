#!/bin/bash
# Spooled reads arrive within a minute of the tracker's return with no
# action of the user (issue 15 item 1).  Both mechanisms the package ships:
#   - doveadm mailstate replay -A, run here exactly as
#     packaging/systemd/mailstate-replay.service runs it (plus -c for the
#     private instance), with no IMAP session of the user;
#   - the retry timer inside a long IMAP session (default 30 s), with the
#     session that made the read still open and idle.
# Real Dovecot, real plugin, real mailstate-tracker.  The waits are for the
# condition (t_wait), bounded at 60 s: the promise under test.
#
# Environment (CTest sets it): TRACKER_BIN, SEED_BIN, DOVECOT_PLUGIN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/tracker.sh"
. "$here/../lib/dovecot.sh"

t_init dovecot-replay
SEED_BIN=${SEED_BIN:?SEED_BIN not set}
unit=$here/../../packaging/systemd/mailstate-replay.service

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
    "$SEED_BIN" -d "$T/store" -k "$T/system.key" -s alice@a.example -r "$1"
}
spool_n() {
    [ "$(find "$(dovecot_spool "$1")" -maxdepth 1 -name '*.json*' ! -name '.*' 2>/dev/null | wc -l)" -eq "$2" ]
}
logins() { grep -c "Login: user=<$1>" "$DOVECOT_LOG"; }
# The promise: within 60 s.
wait60() { local T_WAIT=60; t_wait "$@"; }

tport=$(t_port)
tracker_conf "$T/tracker.conf" "$tport"
tracker_start "$T/tracker.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" || {
    t_fail "dovecot starts"; t_summary; exit 1; }

m_timer=$(seed_mail bob@a.example)
m_idle=$(seed_mail dave@a.example)
[ -n "$m_timer" ] && [ -n "$m_idle" ] || { t_fail "seed mails"; t_summary; exit 1; }
dovecot_deliver bob@a.example timer "$m_timer" alice@a.example
dovecot_deliver dave@a.example idle "$m_idle" alice@a.example

# The command line the unit runs (the timer's ExecStart).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
t_check "the unit runs doveadm mailstate replay -A" \
    test "$exec_start" = "/usr/bin/doveadm mailstate replay -A"
replay_as_the_timer() {
    # shellcheck disable=SC2086  # the unit's words, split as systemd does
    set -- $exec_start
    "$1" -c "$DOVECOT_DIR/dovecot.conf" "${@:2}" 2>> "$T/doveadm.log"
}

# --- 1. tracker down, bob reads, logs out; tracker up; no further login of
# bob: the timer's command delivers the read.
tracker_stop
dovecot_imap bob seen:timer > /dev/null || t_fail "bob's session"
t_check "bob's read spooled while the tracker is down" t_wait spool_n bob 1
# With the tracker still down the command fails quietly (the timer runs it
# again) and keeps the file.
t_check "replay with the tracker down exits 0" replay_as_the_timer
t_check "the file stays spooled, unclaimed" spool_n bob 1
t_check "what is left is logged" \
    grep -q "mailstate: replay: 0 spooled events answered, 1 left in $(dovecot_spool bob)" "$DOVECOT_LOG" "$T/doveadm.log"
tracker_start "$T/tracker.conf" || t_fail "tracker restarts"
n_login=$(logins bob@a.example)
t_check "the timer's command succeeds" replay_as_the_timer
t_check "bob's read recorded with no login of bob" \
    wait60 state_is "$m_timer" bob@a.example "read imap 1"
t_check "bob did not log in again" test "$(logins bob@a.example)" -eq "$n_login"
t_check "bob's spool empty" spool_n bob 0
t_check "a second run sends nothing again" replay_as_the_timer
t_check "read counted once" state_is "$m_timer" bob@a.example "read imap 1"

# --- 2. tracker down, dave reads in a session that stays open (an idle
# client); tracker up; no new session: the in-session retry delivers it.
tracker_stop
/usr/bin/python3 "$here/imap.py" 127.0.0.1 "$DOVECOT_PORT" dave@a.example secret \
    seen:idle sleep:90 > "$T/idle.out" 2>&1 &
idle_pid=$!
t_defer "kill $idle_pid 2>/dev/null"
t_check "dave's read spooled while the tracker is down" t_wait spool_n dave 1
tracker_start "$T/tracker.conf" || t_fail "tracker restarts (2)"
n_login=$(logins dave@a.example)
t_check "dave's read recorded within 60 s, session still open" \
    wait60 state_is "$m_idle" dave@a.example "read imap 1"
t_check "the session was still open when it arrived" kill -0 "$idle_pid"
t_check "dave did not log in again" test "$(logins dave@a.example)" -eq "$n_login"
t_check "dave's spool empty" spool_n dave 0
kill "$idle_pid" 2>/dev/null

t_check "no panic or fatal error in Dovecot's log" \
    bash -c "! grep -q 'Panic:\|Fatal:' '$DOVECOT_LOG'"
t_summary
