#!/bin/bash
# Clients that misbehave at the socket level: half a request then silence,
# many idle connections up to the connection limit, a body that never ends.
# Each is cut off by the idle timeout while the daemon serves other clients.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-limits

PORT=$(t_port)
TRACKER_CONF_TRACKER="idle_timeout = 2s
max_connections = 40" tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -r bob@a.example) || t_fail "seed"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
N=$TRACKER_TOKEN_NOTIFY

# stall.py MODE COUNT: open COUNT connections, send a partial request, then
# wait (up to 60 s) until the server closes each; prints how many it closed.
cat > "$T/stall.py" <<'PY'
import socket, sys, time
mode, count, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
partial = {
    "headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    "body":    b"POST /v1/reads HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{\"mail_id\": ",
    "idle":    b"",
}[mode]
socks = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    if partial:
        s.sendall(partial)
    socks.append(s)
print("open", flush=True)
closed = 0
deadline = time.time() + 60
for s in socks:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        while s.recv(4096):
            pass
        closed += 1
    except (socket.timeout, ConnectionResetError):
        if not isinstance(sys.exc_info()[1], socket.timeout):
            closed += 1
print("closed", closed, flush=True)
PY

for mode in headers body; do
    /usr/bin/python3 "$T/stall.py" $mode 10 "$PORT" > "$T/stall.$mode" &
    spid=$!
    t_wait grep -q open "$T/stall.$mode"
    # While they stall, others are served.
    ok=0
    for i in $(seq 20); do
        call GET /healthz ""
        [ "$CODE" = 200 ] && ok=$((ok + 1))
    done
    call POST /v1/reads "$N" "$(read_body "$M" alice@a.example bob@a.example)"
    [ "$ok" = 20 ] && [ "$CODE" = 200 ] &&
        t_ok "10 clients stalled in the $mode: others are served" || t_fail "$mode: served $ok/20, post $CODE"
    wait $spid
    grep -q "closed 10" "$T/stall.$mode" && t_ok "the 10 stalled $mode clients are cut off" ||
        t_fail "$mode: $(cat "$T/stall.$mode")"
done

# More idle connections than max_connections: refused or held, never a crash;
# once they are timed out the daemon serves again.
/usr/bin/python3 "$T/stall.py" idle 60 "$PORT" > "$T/stall.idle" &
spid=$!
t_wait grep -q open "$T/stall.idle"
wait $spid
grep -q "closed 60" "$T/stall.idle" && t_ok "60 idle connections (limit 40) all closed by the server" ||
    t_fail "idle: $(cat "$T/stall.idle")"
t_wait tracker_healthy && t_ok "serving again after the connection flood" || t_fail "not serving after flood"
kill -0 "$TRACKER_PID" && t_ok "daemon still running" || t_fail "daemon died"

# A chunked body that never ends: cut off at max_body, the daemon serves on.
/usr/bin/python3 - "$PORT" "$N" > "$T/endless" <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /v1/reads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sys.argv[2].encode() +
          b"\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
sent = 0
try:
    for _ in range(100000):
        s.sendall(chunk)
        sent += len(chunk)
except (BrokenPipeError, ConnectionResetError):
    pass
s.settimeout(10)
try:
    data = s.recv(4096)
except Exception:
    data = b""
print("sent", sent, "reply", data.split(b"\r\n")[0].decode(errors="replace"))
PY
epid=$!
wait $epid
sent=$(awk '{ print $2 }' "$T/endless")
[ -n "$sent" ] && [ "$sent" -lt 100000000 ] && t_ok "endless chunked body cut off after $sent bytes" ||
    t_fail "endless body: $(cat "$T/endless")"
call GET /healthz ""
expect "serving after the endless body" 200

# SIGTERM while a keep-alive client keeps asking: it cannot hold the
# shutdown up.  Either its next answer says "Connection: close", or the
# server closes the connection while it is idle between two requests (which
# any HTTP/1.1 client must expect; the request it had just sent was never
# read).  A truncated or wrong answer, a hang or an abort is a failure.
/usr/bin/python3 - "$PORT" "$T/ka.count" > "$T/ka.out" <<'PY' &
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
n = 0
try:
    while True:
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        body = r.read()
        if r.status != 200 or b'"ok"' not in body:
            print("bad answer", r.status, body[:80])
            break
        n += 1
        if n % 20 == 0:
            open(sys.argv[2], "w").write(str(n))
        if (r.getheader("Connection") or "").lower() == "close":
            print("saw-close after", n)
            break
except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
    print("closed-idle after", n, type(e).__name__)
except Exception as e:
    print("error", type(e).__name__, "after", n)
PY
kpid=$!
ka_busy() { [ -s "$T/ka.count" ] && [ "$(cat "$T/ka.count")" -ge 100 ]; }
t_wait ka_busy || t_fail "keep-alive client does not get answers"
tracker_stop && t_ok "clean stop with a busy keep-alive client" || t_fail "stop status"
wait $kpid
grep -qE "^(saw-close|closed-idle) " "$T/ka.out" &&
    t_ok "the keep-alive client was let go: $(cat "$T/ka.out")" ||
    t_fail "keep-alive client: $(cat "$T/ka.out")"
if grep -q "Fatal error" "$T/tracker.log"; then
    t_fail "libmicrohttpd panicked: $(grep "Fatal error" "$T/tracker.log")"
else
    t_ok "no libmicrohttpd panic in the log"
fi
t_summary
