# tracker.sh - run the real mailstate-tracker in black-box tests.
# Source after common.sh (needs $T, t_wait, t_defer, $TRACKER_BIN).
#
#   tracker_conf FILE PORT [EXTRA_INI_LINES]
#                      write a one-server config (this_server mx1 hosting
#                      a.example b.example, peer mx2 hosting c.example,
#                      opt-out carol@a.example, key $T/system.key, store
#                      $T/store, tokens below) listening on 127.0.0.1:PORT;
#                      EXTRA is appended verbatim (more sections);
#                      $TRACKER_CONF_TRACKER (lines) goes into [tracker].
#   tracker_start CONF start "$TRACKER_BIN -f -c CONF" (log $T/tracker.log),
#                      wait until GET /healthz answers; sets TRACKER_PID and
#                      TRACKER_URL (http://127.0.0.1:PORT).  Returns 1 if it
#                      did not come up.  Stopped at exit (t_defer).
#   tracker_stop       SIGTERM, wait for the exit; returns its exit status
#   tracker_kill       SIGKILL, wait for the exit
#   tracker_url        prints $TRACKER_URL
#   tracker_curl ARGS  curl -sS against the tracker; prints the body, then a
#                      last line with the HTTP status code
#
# Tokens written by tracker_conf (secrets, for Authorization: Bearer ...):
#   $TRACKER_TOKEN_NOTIFY (scope notify), $TRACKER_TOKEN_QUERY (query),
#   $TRACKER_TOKEN_ALL (notify query admin)

TRACKER_PID=
TRACKER_URL=
TRACKER_TOKEN_NOTIFY=notify-secret-0123456789abcdef
TRACKER_TOKEN_QUERY=query-secret-0123456789abcdef
TRACKER_TOKEN_ALL=all-secret-0123456789abcdef

tracker_conf() {
    local file=$1 port=$2 extra=${3:-}
    [ -f "$T/system.key" ] || t_key "$T/system.key"
    cat > "$file" <<EOF_CONF
[system]
this_server = mx1
key_file = $T/system.key
opt_out = carol@a.example
retention = 30d

[server mx1]
domains = a.example b.example
tracker = http://127.0.0.1:$port

[server mx2]
domains = c.example
tracker = http://127.0.0.2:$port

[tracker]
listen = 127.0.0.1:$port
${TRACKER_CONF_TRACKER:-}

[store]
path = $T/store

[token notify]
secret = $TRACKER_TOKEN_NOTIFY
scopes = notify

[token query]
secret = $TRACKER_TOKEN_QUERY
scopes = query

[token all]
secret = $TRACKER_TOKEN_ALL
scopes = notify query admin
$extra
EOF_CONF
    # inline secrets: the file must be private like a secret file (conf.h)
    chmod 600 "$file"
}

tracker_healthy() {
    curl -sf -o /dev/null --max-time 2 "$TRACKER_URL/healthz"
}

tracker_start() {
    local conf=$1 listen port
    listen=$(awk -F= '/^\[tracker\]/ { s = 1; next } /^\[/ { s = 0 }
                      s && $1 ~ /^[ \t]*listen[ \t]*$/ { gsub(/[ \t]/, "", $2); print $2 }' "$conf")
    port=${listen##*:}
    "$TRACKER_BIN" -f -c "$conf" >> "$T/tracker.log" 2>&1 &
    TRACKER_PID=$!
    # Kill at exit only a tracker still running (its PID is cleared once it
    # is stopped, so a reused PID is never hit); registered once.
    if [ -z "${_TRACKER_DEFERRED:-}" ]; then
        t_defer tracker_kill
        _TRACKER_DEFERRED=1
    fi
    if [ "$port" = 0 ]; then
        t_wait grep -q "(port [0-9]*)" "$T/tracker.log" || return 1
        port=$(grep -o "(port [0-9]*)" "$T/tracker.log" | tail -1 | tr -dc 0-9)
    fi
    TRACKER_URL="http://127.0.0.1:$port"
    if ! t_wait tracker_healthy; then
        t_log "tracker did not come up; log:"
        tail -20 "$T/tracker.log" >&2
        return 1
    fi
}

tracker_stop() {
    local rc=0
    [ -n "$TRACKER_PID" ] || return 0
    kill -TERM "$TRACKER_PID" 2>/dev/null
    wait "$TRACKER_PID" || rc=$?
    TRACKER_PID=
    return $rc
}

tracker_kill() {
    [ -n "$TRACKER_PID" ] || return 0
    kill -9 "$TRACKER_PID" 2>/dev/null
    wait "$TRACKER_PID" 2>/dev/null
    TRACKER_PID=
    return 0
}

tracker_url() {
    printf '%s\n' "$TRACKER_URL"
}

tracker_curl() {
    curl -sS --max-time 20 -w '\n%{http_code}\n' "$@"
}
