#!/bin/bash
# Shutdown with a write request still arriving.  Bad input: a client that
# has sent the headers and half the body of POST /v1/reads when SIGTERM
# comes, and sends the rest only after the tracker gave up waiting for
# requests in flight (10 s) and began to stop its write pool.  The request
# must get an answer (503) or a closed connection - not a write submitted to
# a stopped pool (a crash, or a connection suspended forever) - and the
# tracker must exit 0.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-shutdown

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -r bob@a.example) || t_fail "seed"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

BODY=$(read_body "$M" alice@a.example bob@a.example)
# late.py PORT BODY GO: headers and half the body, "half" on stdout, then
# the rest once the file GO exists; prints the status line or "closed".
cat > "$T/late.py" <<'PY'
import os, socket, sys, time
port, body, go = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/reads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
          os.environ["TOKEN"].encode() + b"\r\nContent-Type: application/json\r\n" +
          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
print("half", flush=True)
for _ in range(600):
    if os.path.exists(go):
        break
    time.sleep(0.1)
try:
    s.sendall(body[10:])
    s.settimeout(30)
    data = s.recv(4096)
    print(data.split(b"\r\n")[0].decode() if data else "closed", flush=True)
except OSError as e:
    print("closed", e, flush=True)
PY
TOKEN=$TRACKER_TOKEN_NOTIFY /usr/bin/python3 "$T/late.py" "$PORT" "$BODY" "$T/go" > "$T/late.out" 2>&1 &
CLIENT=$!
# At exit, kill the client only if it is still running (CLIENT cleared once
# it was waited for), never a reused PID.
t_defer '[ -n "$CLIENT" ] && kill "$CLIENT" 2>/dev/null'

t_wait grep -q half "$T/late.out" || t_fail "client did not start"

PID=$TRACKER_PID
kill -TERM "$PID"
# The main thread waits 10 s for the request in flight, then stops.
T_WAIT=30 t_wait grep -q "still in flight after" "$T/tracker.log" ||
    t_fail "the tracker did not give up on the request in flight"
touch "$T/go"
rc=0
wait "$PID" || rc=$?
TRACKER_PID=
[ "$rc" = 0 ] && t_ok "exit status 0 with a write arriving during shutdown" ||
    t_fail "exit status $rc with a write arriving during shutdown"
wait "$CLIENT" 2>/dev/null
CLIENT=
out=$(sed -n 2p "$T/late.out")
case $out in
    "HTTP/1.1 503"*|closed*) t_ok "the late write is refused or cut off ($out)" ;;
    *) t_fail "the late write: $out" ;;
esac
grep -q Sanitizer "$T/tracker.log" && t_fail "sanitizer report in the tracker log"
t_summary
