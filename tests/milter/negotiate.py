#!/usr/bin/python3
"""negotiate.py - play the MTA side of the milter protocol (version 6) with
actions of our choosing, against the real mailstate-milter.

Debian's miltertest offers every action whatever mt.negotiate is given
(docs/decisions.md), so it cannot play an MTA that withholds one, e.g.
SMFIF_CHGHDRS.  This client speaks the libmilter wire protocol itself
(4-byte big-endian length, command byte, data) with the standard library
only, honours the steps and replies the milter negotiates away, and prints
what the milter answered, one line each:

    optneg version=V actions=0xA protocol=0xP   the milter's OPTNEG reply
    reply STEP CODE                             the reply to a step (C M R L ...)
    eom CODE [ARGS]                             each reply at end of message:
        eom h NAME VALUE        add header
        eom i INDEX NAME VALUE  insert header
        eom m INDEX NAME VALUE  change header (empty VALUE: delete)
        eom c | a | t | r | d | y TEXT          the final reply
    final CODE                                  the final reply's code again

Exit 0 when the dialogue ran to the end (whatever the milter decided), 2 on
a protocol error (unknown reply, closed connection, timeout, or an OPTNEG
reply asking for actions or steps that were not offered).

usage: negotiate.py SOCKET [options]   (SOCKET: unix:/path or inet:PORT@HOST)
  --actions N      actions offered (SMFIF_* bits; default 0x1FF, all of v6)
  --client IP      client address sent with the connect step (127.0.0.1)
  --qid QID        macro i at MAIL and at end of message
  --auth LOGIN     macro {auth_authen} at MAIL
  --from ADDR      MAIL FROM argument (<alice@a.example>)
  --rcpt ADDR      RCPT TO argument, repeatable
  --header 'N: V'  a header, repeatable, in order
"""
import argparse
import socket
import struct
import sys

SMFIF_ALL_V6 = 0x1FF
# Every step flag and no-reply flag of protocol version 6 (Postfix 3.7
# offers these too), not SMFIP_HDR_LEADSPC: the milter picks what it wants.
SMFIP_OFFER = 0x000FFFFF

NO = {"C": 0x1, "H": 0x2, "M": 0x4, "R": 0x8, "B": 0x10, "L": 0x20, "N": 0x40,
      "T": 0x200}
NR = {"C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000,
      "N": 0x40000, "B": 0x80000, "L": 0x80}
FINAL = set("acdrty")   # accept continue discard reject tempfail replycode
MODIFY = set("+-2behimq")  # every reply that changes the message or envelope


class ProtocolError(Exception):
    pass


class Decided(Exception):
    """The milter decided the message before its end (accept, reject...)."""


class Mta:
    def __init__(self, where, timeout=20.0):
        if where.startswith(("unix:", "local:")):
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = where.split(":", 1)[1]
        elif where.startswith("inet:"):
            port, _, host = where[5:].partition("@")
            self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            addr = (host or "127.0.0.1", int(port))
        else:
            raise ProtocolError("socket must be unix:/path or inet:PORT@HOST: " + where)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        self.pflags = 0

    def send(self, cmd, data=b""):
        self.s.sendall(struct.pack(">I", len(data) + 1) + cmd.encode() + data)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ProtocolError("milter closed the connection")
            buf += chunk
        return buf

    def recv(self):
        (n,) = struct.unpack(">I", self._read(4))
        if n < 1 or n > 1 << 20:
            raise ProtocolError("bad packet length %d" % n)
        pkt = self._read(n)
        return chr(pkt[0]), pkt[1:]

    def negotiate(self, actions):
        self.send("O", struct.pack(">III", 6, actions, SMFIP_OFFER))
        code, data = self.recv()
        if code != "O" or len(data) < 12:
            raise ProtocolError("OPTNEG reply %r" % code)
        ver, act, prot = struct.unpack(">III", data[:12])
        print("optneg version=%d actions=0x%x protocol=0x%x" % (ver, act, prot))
        if act & ~actions:
            raise ProtocolError("milter asks for actions not offered: 0x%x" % (act & ~actions))
        if prot & ~SMFIP_OFFER:
            raise ProtocolError("milter asks for steps not offered: 0x%x" % (prot & ~SMFIP_OFFER))
        self.pflags = prot

    def macro(self, step, pairs):
        data = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs)
        self.send("D", step.encode() + data)

    def step(self, cmd, data=b""):
        """Send a step unless negotiated away; read its reply unless the
        milter said it will not answer.  Returns the reply code or None."""
        if self.pflags & NO.get(cmd, 0):
            return None
        self.send(cmd, data)
        if self.pflags & NR.get(cmd, 0):
            return None
        code, _ = self.recv()
        while code == "p":
            code, _ = self.recv()
        print("reply %s %s" % (cmd, code))
        if code not in FINAL and code != "s":
            raise ProtocolError("unexpected reply %r to %s" % (code, cmd))
        if code not in "cs":
            raise Decided(code)
        return code

    def eom(self):
        self.send("E")
        while True:
            code, data = self.recv()
            if code == "p":
                continue
            if code in ("h", "i", "m"):
                if code != "h":
                    if len(data) < 4:
                        raise ProtocolError("short header reply %r" % code)
                    (idx,) = struct.unpack(">I", data[:4])
                    data = data[4:]
                parts = data.split(b"\0")
                if len(parts) < 2:
                    raise ProtocolError("bad header reply %r" % code)
                name, value = parts[0].decode(), parts[1].decode()
                if code == "h":
                    print("eom h %s %s" % (name, value))
                else:
                    print("eom %s %d %s %s" % (code, idx, name, value))
            elif code in FINAL:
                text = data.rstrip(b"\0").decode(errors="replace")
                print(("eom %s %s" % (code, text)).rstrip())
                print("final %s" % code)
                return code
            elif code in MODIFY:
                print("eom %s" % code)
            else:
                raise ProtocolError("unknown reply %r at end of message" % code)

    def close(self):
        self.send("Q")
        self.s.close()


def z(*strings):
    return b"".join(s.encode() + b"\0" for s in strings)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("socket")
    ap.add_argument("--actions", type=lambda x: int(x, 0), default=SMFIF_ALL_V6)
    ap.add_argument("--client", default="127.0.0.1")
    ap.add_argument("--qid", default="")
    ap.add_argument("--auth", default="")
    ap.add_argument("--from", dest="sender", default="<alice@a.example>")
    ap.add_argument("--rcpt", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    a = ap.parse_args()

    m = Mta(a.socket)
    m.negotiate(a.actions)
    try:
        dialogue(m, a)
    except Decided as d:
        print("final %s" % d.args[0])
    m.close()
    return 0


def dialogue(m, a):
    fam = "6" if ":" in a.client else "4"
    m.step("C", z("client.test") + fam.encode() + struct.pack(">H", 25) + z(a.client))
    m.step("H", z("client.test"))
    mail = [("i", a.qid)] if a.qid else []
    if a.auth:
        mail.append(("{auth_authen}", a.auth))
    if mail:
        m.macro("M", mail)
    m.step("M", z(a.sender))
    for r in a.rcpt:
        m.step("R", z(r))
    m.step("T")
    for h in a.header:
        name, sep, value = h.partition(":")
        if not sep:
            raise ProtocolError("header without a colon: " + h)
        m.step("L", z(name, value.lstrip()))
    m.step("N")
    m.step("B", b"hello\r\n")
    if a.qid:
        m.macro("E", [("i", a.qid)])
    m.eom()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ProtocolError, OSError) as e:
        print("negotiate.py: %s" % e, file=sys.stderr)
        sys.exit(2)
