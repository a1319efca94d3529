#!/usr/bin/python3
"""holdconns.py ADDR HOST PORT N STATS - open N idle TCP connections from
ADDR to HOST:PORT and hold them (the bad input: one client address taking
every connection slot).  Raises RLIMIT_NOFILE as needed.  Writes
"attempted A open O closed C" to STATS after the connects and then every
0.2 s (a connection the server closed counts as closed), until killed."""
import os, resource, select, socket, sys, time

addr, host, port, n, stats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
socks, attempted, failed = [], 0, 0
for _ in range(n):
    s = socket.socket()
    s.bind((addr, 0))
    attempted += 1
    try:
        s.connect((host, port))
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
closed = set()
while True:
    if socks:
        r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0)
        for s in r:
            try:
                if s.recv(1) == b"":
                    closed.add(s)
            except OSError:
                closed.add(s)
    tmp = stats + ".tmp"
    with open(tmp, "w") as f:
        f.write("attempted %d open %d closed %d\n" % (attempted, len(socks) - len(closed), len(closed) + failed))
    os.replace(tmp, stats)
    time.sleep(0.2)
