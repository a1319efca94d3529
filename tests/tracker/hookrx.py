#!/usr/bin/python3
"""hookrx - a webhook receiver for tests/tracker/webhook.sh (issue 17).

    hookrx.py PORT SECRET_FILE LOG PLAN

Listens on 127.0.0.1:PORT.  Each POST is checked the way a real receiver
would check it: Mailstate-Signature t=UNIX,v1=HEX must be the HMAC-SHA256
under the secret of "UNIX." + body (compared in constant time), and
Mailstate-Delivery must be present.  The answer is the next status code
from PLAN (a file, one code per line, consumed from the top; empty or
missing: 200).  A request whose signature does not verify is answered 401.
Each request appends one JSON line to LOG:
  {"code": ANSWERED, "sig_ok": BOOL, "delivery": ID, "seqs": [...],
   "events": [...], "webhook": NAME}
"""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, SECRET_FILE, LOG, PLAN = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(SECRET_FILE, "rb") as f:
    SECRET = f.read().rstrip(b"\n")


def next_code():
    try:
        with open(PLAN) as f:
            lines = [l for l in f.read().split("\n") if l.strip()]
    except FileNotFoundError:
        return 200
    if not lines:
        return 200
    with open(PLAN, "w") as f:
        f.write("\n".join(lines[1:]) + ("\n" if len(lines) > 1 else ""))
    return int(lines[0])


def sig_ok(header, body):
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t, v1 = parts["t"], parts["v1"]
    except (AttributeError, ValueError, KeyError):
        return False
    want = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, v1)


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ok = sig_ok(self.headers.get("Mailstate-Signature"), body)
        code = next_code() if ok else 401
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        rec = {"code": code, "sig_ok": ok, "delivery": self.headers.get("Mailstate-Delivery"),
               "webhook": doc.get("webhook"), "events": doc.get("events", []),
               "seqs": [e.get("seq") for e in doc.get("events", [])],
               "ctype": self.headers.get("Content-Type")}
        with open(LOG, "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), H).serve_forever()
