#!/bin/bash
# How long an IMAP "STORE +FLAGS (\Seen)" takes with the mailstate plugin
# when the tracker is up, slow (answers after 2 s) and down (issue 7).
# A measurement, run on demand; it asserts nothing about time.
#
#   TRACKER_BIN=... SEED_BIN=... DOVECOT_PLUGIN=... bench/dovecot-store-latency.sh [N]
#
# For each case: N single-message STOREs (median and max printed), then one
# "STORE 1:* +FLAGS (\Seen)" over N more messages, then the LOGOUT (which
# waits, bounded by mailstate_timeout, for answers still in flight).
# "slow" is a python socket that answers 200 after 2 s; it stands in for the
# tracker only here, for the timing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/common.sh"
. "$here/../tests/lib/tracker.sh"
. "$here/../tests/lib/dovecot.sh"

N=${1:-20}
t_init dovecot-latency
SEED_BIN=${SEED_BIN:?SEED_BIN not set}

slow_start() {
    /usr/bin/python3 - "$1" <<'EOF' &
import socket, sys, threading, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(64)
def serve(conn):
    with conn:
        while True:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                body += conn.recv(65536)
            time.sleep(2)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
EOF
    SLOW_PID=$!
    t_defer "kill $SLOW_PID"
    t_wait t_port_open "$1"
}

# One case: deliver 2N mails for bob, time N single STOREs and one STORE 1:*.
run_case() {
    local name=$1 i ids
    ids=$("$SEED_BIN" -d "$T/store" -k "$T/system.key" -s alice@a.example \
          -r bob@a.example -m $((2 * N)))
    i=0
    for id in $ids; do
        i=$((i + 1))
        if [ $i -le "$N" ]; then
            dovecot_deliver bob@a.example "$name-one-$(printf %04d $i)" "$id" alice@a.example
        else
            dovecot_deliver bob@a.example "$name-all-$(printf %04d $i)" "$id" alice@a.example
        fi
    done
    local actions=()
    for (( i=1; i<=N; i++ )); do actions+=("seen:$name-one-$(printf %04d $i)"); done
    dovecot_imap bob "${actions[@]}" > "$T/$name.single"
    sleep 7
    dovecot_imap bob seen-all > "$T/$name.all"
    /usr/bin/python3 - "$name" "$N" "$T/$name.single" "$T/$name.all" <<'EOF'
import statistics, sys
name, n, single, allf = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ts = [float(l.split()[2]) for l in open(single) if l.startswith("timing seen:")]
lo = [float(l.split()[2]) for l in open(single) if l.startswith("timing logout")]
al = [float(l.split()[2]) for l in open(allf) if l.startswith("timing seen-all")]
print("%-5s STORE one: median %.1f ms, max %.1f ms (%d); STORE 1:* (%s new): %.1f ms; "
      "LOGOUT after: %.1f ms" % (name, 1000 * statistics.median(ts), 1000 * max(ts),
                                 len(ts), n, 1000 * al[0], 1000 * lo[0]))
EOF
    # let the imap processes' logout waits (<= mailstate_timeout + 1 s) end
    sleep 7
    echo "      spooled so far: $(find "$(dovecot_spool bob)" -name '*.json' 2>/dev/null | wc -l)"
}

tport=$(t_port)
tracker_conf "$T/tracker.conf" "$tport"
tracker_start "$T/tracker.conf" || exit 1
dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" "  mailstate_spool_max = 100000
  mailstate_timeout = 5s" || exit 1

run_case up
tracker_stop
slow_start "$tport" || exit 1
run_case slow
kill "$SLOW_PID"; wait "$SLOW_PID" 2>/dev/null
run_case down
