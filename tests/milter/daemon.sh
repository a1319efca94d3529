#!/bin/bash
# daemon.sh - the daemon around the callbacks: -n, sockets (unix with a stale
# file, inet in both spellings), socket permissions, PID file, privilege
# drop, SIGTERM.  Each check names the bad input it tries, if any.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"
t_init milter-daemon
MILTER_BIN=${MILTER_BIN:?MILTER_BIN not set}

# -n on a good config: exit 0
milter_conf "$T/good.conf" "unix:$T/m.sock"
t_check "-n accepts a good config" "$MILTER_BIN" -n -c "$T/good.conf"

# bad input: an unknown key on line 3 -> non-zero, message names file:line
printf '[system]\nthis_server = mx1\nno_such_key = 1\n' > "$T/bad.conf"
if "$MILTER_BIN" -n -c "$T/bad.conf" > "$T/n.out" 2>&1; then
    t_fail "-n accepted an unknown key"
else
    t_check "-n names file and line of the error" grep -q "bad.conf:3" "$T/n.out"
fi
# bad input: a config file that does not exist
if "$MILTER_BIN" -n -c "$T/missing.conf" >/dev/null 2>&1; then
    t_fail "-n accepted a missing -c file"
else
    t_ok "-n refuses a missing -c file"
fi
# bad input: an unknown option
"$MILTER_BIN" -x >/dev/null 2>&1
t_check "unknown option exits 2" [ $? -eq 2 ]

# A stale socket file from a crash (bad input: the path is taken) is replaced.
/usr/bin/python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/m.sock"
t_check "stale socket file present before start" [ -S "$T/m.sock" ]
milter_conf "$T/m.conf" "unix:$T/m.sock"
sed -i "/^\[milter\]\$/a pid_file = $T/m.pid" "$T/m.conf"
if milter_start "$T/m.conf"; then
    t_ok "starts over a stale socket file"
    t_check "socket mode is socket_mode (666)" [ "$(stat -c %a "$T/m.sock")" = 666 ]
    t_check "PID file holds the daemon's PID" [ "$(cat "$T/m.pid" 2>/dev/null)" = "$MILTER_PID" ]
    # bad input: a second instance on the same socket must not steal it
    if "$MILTER_BIN" -f -c "$T/m.conf" >>"$T/second.log" 2>&1; then
        t_fail "second instance on a live socket started"
    else
        t_check "second instance refuses a live socket" grep -q "another milter" "$T/second.log"
    fi
    t_check "first instance still accepts" milter_accepts "unix:$T/m.sock"
    if milter_stop; then t_ok "SIGTERM: exit status 0"; else t_fail "SIGTERM: exit status"; fi
    t_check "socket removed at exit" [ ! -e "$T/m.sock" ]
    t_check "PID file removed at exit" [ ! -e "$T/m.pid" ]
else
    t_fail "starts over a stale socket file"
fi

# Attack (issue 14 item 8): the PID file path is a symlink planted to make
# the root-run daemon truncate another file.  It must refuse to start and
# leave the target alone; a FIFO there must not hang it either.
echo "precious" > "$T/target"
ln -s "$T/target" "$T/evil.pid"
milter_conf "$T/p.conf" "unix:$T/p.sock"
sed -i "/^\[milter\]\$/a pid_file = $T/evil.pid" "$T/p.conf"
if timeout 20 "$MILTER_BIN" -f -c "$T/p.conf" >"$T/p.log" 2>&1; then
    t_fail "started with a symlinked PID file"
else
    t_check "symlinked PID file: refused with a reason" grep -q "symbolic link" "$T/p.log"
fi
t_check "symlink target untouched" [ "$(cat "$T/target")" = precious ]
mkfifo "$T/fifo.pid"
sed -i "s|pid_file = .*|pid_file = $T/fifo.pid|" "$T/p.conf"
timeout 20 "$MILTER_BIN" -f -c "$T/p.conf" >"$T/p.log" 2>&1
rc=$?
t_check "FIFO as PID file: refused, not hung (rc $rc)" [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
t_check "FIFO as PID file: says why" grep -q "cannot write PID file" "$T/p.log"

# an inet socket (libmilter's spelling, inet:PORT@HOST)
for form in libmilter; do
    port=$(t_port)
    s="inet:$port@127.0.0.1"
    milter_conf "$T/i.conf" "$s"
    # milter_start waits for the socket in the form it reads from the config
    MILTER_PID=
    "$MILTER_BIN" -f -c "$T/i.conf" >>"$T/milter.log" 2>&1 &
    MILTER_PID=$!
    if t_wait t_port_open "$port"; then t_ok "listens on $s"; else t_fail "listens on $s"; fi
    milter_stop || t_fail "stop after $s"
done

# privilege drop: user = nobody (the store is not writable by nobody: the
# daemon must still run and say so, mail flows untagged)
milter_conf "$T/u.conf" "unix:$T/u.sock" "$T/ustore"
sed -i "/^\[milter\]\$/a user = nobody" "$T/u.conf"
if milter_start "$T/u.conf"; then
    t_check "runs as nobody after dropping privileges" \
        [ "$(ps -o user= -p "$MILTER_PID" | tr -d ' ')" = nobody ]
    t_check "socket owned by nobody" [ "$(stat -c %U "$T/u.sock")" = nobody ]
    milter_stop || t_fail "stop as nobody"
else
    t_fail "starts with user = nobody"
fi

[ "$T_FAIL" -eq 0 ] || cat "$T/milter.log"
t_summary
