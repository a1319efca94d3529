"""recorder.py - a stand-in for the tracker's POST /v1/reads that records
what the Dovecot plugin SENT (issue 11: the tracker's side of "received" and
original_recipient is not on main yet; this asserts only the plugin's
outgoing requests, the real tracker is used for everything else).

    recorder.py PORT LOG MODEFILE

Each request is appended to LOG as one JSON line {"path", "auth", "body"}.
MODEFILE says how to answer: "200" (default), "404" (a tracker error body
with "error" and "detail"), or "hang" (accept, never answer).
"""
import http.server
import json
import sys
import threading
import time

port, log, modefile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()


def mode():
    try:
        with open(modefile) as f:
            return f.read().strip() or "200"
    except OSError:
        return "200"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        m = mode()
        with lock, open(log, "a") as f:
            f.write(json.dumps({"path": self.path,
                                "auth": self.headers.get("Authorization", ""),
                                "body": body, "mode": m}) + "\n")
        if m == "hang":
            time.sleep(3600)
            return
        if m == "404":
            out = json.dumps({"error": "recipient_not_found",
                              "detail": "no entry for this recipient"}).encode()
            status = b"404 Not Found"
        else:
            out = json.dumps({"status": "received"}).encode()
            status = b"200 OK"
        # Header and body in one write, as libmicrohttpd sends a small
        # answer: the plugin reads the tracker's reason from what arrived
        # with the header (docs/dovecot.md).
        self.wfile.write(b"HTTP/1.1 " + status + b"\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: " + str(len(out)).encode() +
                         b"\r\n\r\n" + out)
        self.wfile.flush()


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
server.serve_forever()
