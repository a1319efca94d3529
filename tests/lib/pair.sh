# pair.sh - two real mailstate-trackers of one mail system on loopback.
# Source after common.sh (needs $T, t_key, t_port, t_wait, t_defer,
# $TRACKER_BIN); bash (associative arrays).
#
#   mx1 at 127.0.0.1 hosts a.example, mx2 at 127.0.0.2 hosts c.example;
#   both trust 127.0.0.0/8, share the system key and retry a down peer
#   every second at most (forward_backoff_max = 1s).
#
#   pair_init          key $PAIR_KEY ($T/system.key), ports $PAIR_P1 and
#                      $PAIR_P2, $PAIR_URL[mx1] and $PAIR_URL[mx2]
#   pair_conf NAME [TRACKER_LINES [EXTRA_INI]]
#                      write $T/NAME.conf (mode 600: EXTRA may hold inline
#                      secrets), store $T/store-NAME; TRACKER_LINES go into
#                      [tracker], EXTRA is appended verbatim (more sections)
#   pair_start NAME    start "$TRACKER_BIN -f -c $T/NAME.conf" (log
#                      $T/NAME.log), wait until GET /healthz answers; sets
#                      $PAIR_PID[NAME]; killed at exit (t_defer)
#   pair_stop NAME     SIGTERM, wait for the exit

declare -A PAIR_PID PAIR_URL
PAIR_KEY=
PAIR_P1=
PAIR_P2=

pair_init() {
    PAIR_KEY=$T/system.key
    [ -f "$PAIR_KEY" ] || t_key "$PAIR_KEY"
    PAIR_P1=$(t_port)
    PAIR_P2=$(t_port)
    PAIR_URL[mx1]=http://127.0.0.1:$PAIR_P1
    PAIR_URL[mx2]=http://127.0.0.2:$PAIR_P2
}

pair_conf() {
    local name=$1 listen
    case $name in
        mx1) listen=127.0.0.1:$PAIR_P1 ;;
        mx2) listen=127.0.0.2:$PAIR_P2 ;;
        *) t_fail "pair_conf: no server $name"; return 1 ;;
    esac
    cat > "$T/$name.conf" <<EOF_CONF
[system]
this_server = $name
key_file = $PAIR_KEY
trusted_networks = 127.0.0.0/8

[server mx1]
domains = a.example
tracker = ${PAIR_URL[mx1]}

[server mx2]
domains = c.example
tracker = ${PAIR_URL[mx2]}

[tracker]
listen = $listen
forward_backoff_max = 1s
${2:-}

[store]
path = $T/store-$name
${3:-}
EOF_CONF
    chmod 600 "$T/$name.conf"   # inline secrets need a private config
}

pair_start() {
    "$TRACKER_BIN" -f -c "$T/$1.conf" >> "$T/$1.log" 2>&1 &
    PAIR_PID[$1]=$!
    t_defer "kill -9 ${PAIR_PID[$1]}"
    t_wait curl -sf -o /dev/null --max-time 2 "${PAIR_URL[$1]}/healthz"
}

pair_stop() {
    kill -TERM "${PAIR_PID[$1]}" 2>/dev/null
    wait "${PAIR_PID[$1]}" 2>/dev/null
}
