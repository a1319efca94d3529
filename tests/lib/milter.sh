# milter.sh - start and stop the real mailstate-milter for a test (bash).
# Needs common.sh sourced first ($T, $MILTER_BIN).
#
#   milter_conf FILE SOCKET [STORE_DIR [EXTRA]]   write a one-server config
#       (mx1 = this host hosts a.example and b.example, mx2 hosts c.example,
#       trusted_networks 127.0.0.1/32 so 127.0.0.2 is an untrusted client,
#       key $T/system.key, socket_mode 0666 so the MTA user can
#       connect to a root-owned socket, on_error $MILTER_ON_ERROR or accept); EXTRA is INI
#       text appended at the end (open your own section in it);
#       $MILTER_STORE_EXTRA goes inside [store] (e.g. "map_size = 1M")
#   milter_start CONF   run "$MILTER_BIN -f -c CONF" in the background, log to
#                       $T/milter.log, wait until its socket accepts
#   milter_stop         SIGTERM, wait for exit; fails if it did not exit cleanly
#   milter_kill         SIGKILL (the "milter died" case)
#   milter_reload       SIGHUP
#   $MILTER_PID $MILTER_SOCKET

MILTER_PID=
MILTER_SOCKET=

milter_conf() {
    local file=$1 sock=$2 store=${3:-$T/store}
    [ -f "$T/system.key" ] || t_key "$T/system.key"
    {
        cat <<EOF
[system]
this_server      = mx1
key_file         = $T/system.key
trusted_networks = 127.0.0.1/32
${MILTER_SYSTEM_EXTRA:-}

[server mx1]
domains = a.example b.example

[server mx2]
domains = c.example

[milter]
socket   = $sock
socket_mode = 0666
on_error = ${MILTER_ON_ERROR:-accept}
${MILTER_MILTER_EXTRA:-}

[store]
path = $store
${MILTER_STORE_EXTRA:-}
EOF
        [ -z "${4:-}" ] || printf '%s\n' "$4"
    } > "$file"
    chmod 600 "$file"   # EXTRA may hold inline token secrets (conf.h)
}

# The socket in a config file ("unix:/p" or "inet:PORT@HOST").
milter_socket_of() {
    sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*\([^[:space:];]*\).*/\1/p' "$1" | head -n1
}

milter_accepts() {
    case $1 in
        unix:*|local:*) [ -S "${1#*:}" ] && /usr/bin/python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "${1#*:}" ;;
        inet:*) local p=${1#inet:}; t_port_open "${p%@*}" "${p#*@}" ;;
        *) return 1 ;;
    esac
}

milter_start() {
    local conf=$1
    [ -x "$MILTER_BIN" ] || { t_fail "MILTER_BIN not set or not executable"; return 1; }
    MILTER_SOCKET=$(milter_socket_of "$conf")
    "$MILTER_BIN" -f -c "$conf" >>"$T/milter.log" 2>&1 &
    MILTER_PID=$!
    # Kill at exit only a milter still running: its PID is cleared once it
    # is stopped, so a reused PID is never hit. Registered once.
    if [ -z "${_MILTER_DEFERRED:-}" ]; then
        t_defer milter_kill
        _MILTER_DEFERRED=1
    fi
    if ! t_wait milter_accepts "$MILTER_SOCKET"; then
        t_log "milter did not come up on $MILTER_SOCKET; log:"
        cat "$T/milter.log" >&2
        return 1
    fi
}

milter_stop() {
    [ -n "$MILTER_PID" ] || return 0
    kill -TERM "$MILTER_PID" 2>/dev/null || true
    local rc=0
    wait "$MILTER_PID" || rc=$?
    MILTER_PID=
    return $rc
}

milter_kill() {
    [ -n "$MILTER_PID" ] || return 0
    kill -KILL "$MILTER_PID" 2>/dev/null || true
    wait "$MILTER_PID" 2>/dev/null || true
    MILTER_PID=
}

milter_reload() {
    kill -HUP "$MILTER_PID"
}
