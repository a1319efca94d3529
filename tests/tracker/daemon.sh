#!/bin/bash
# Daemon mode: without -f the tracker detaches, writes its PID file, drops
# to [tracker] user (as root), serves, and on SIGTERM exits (removing the
# PID file when its directory lets it).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-daemon

PORT=$(t_port)
TRACKER_CONF_TRACKER="pid_file = $T/tracker.pid
user = nobody" tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -r bob@a.example) || t_fail "seed"
# The store must belong to the user the daemon becomes.
chown -R nobody "$T/store"
TRACKER_URL="http://127.0.0.1:$PORT"

"$TRACKER_BIN" -c "$T/ms.conf" > "$T/start.out" 2>&1
rc=$?
[ $rc = 0 ] && t_ok "without -f: the starting process exits 0" || t_fail "start rc $rc: $(cat "$T/start.out")"
t_wait test -s "$T/tracker.pid" && PID=$(cat "$T/tracker.pid")
if [ -n "${PID:-}" ] && kill -0 "$PID" 2>/dev/null; then
    t_ok "PID file names the running daemon"
    # At exit, kill it only if it did not stop (PID cleared), never a reused PID.
    t_defer '[ -n "$PID" ] && kill -9 "$PID"'
else
    t_fail "no running daemon in the PID file"
    t_summary
    exit 1
fi
t_wait tracker_healthy && t_ok "the detached daemon serves" || t_fail "not serving"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$PID/status")
[ "$uid" = "$(id -u nobody)" ] && t_ok "runs as nobody (uid $uid)" || t_fail "uid $uid"
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$M" alice@a.example bob@a.example)"
expect "writes to its store as nobody" 200 '.recorded == true'
[ "$(ps -o sid= -p "$PID" | tr -d ' ')" = "$PID" ] && t_ok "in its own session" || t_fail "not detached"

kill -TERM "$PID"
t_wait t_pid_gone "$PID" && { t_ok "SIGTERM stops it"; STOPPED=$PID; PID=; } ||
    t_fail "still running after SIGTERM"
# The PID file lives in a root-owned directory: a daemon that dropped
# privileges may be unable to remove it; either way it must not name a
# live process.
if [ -e "$T/tracker.pid" ]; then
    [ "$(cat "$T/tracker.pid")" = "${STOPPED:-}" ] && t_ok "the PID file left behind names the stopped daemon" ||
        t_fail "PID file names another process"
else
    t_ok "PID file removed"
fi
t_summary
