"""soak-imap.py - one IMAP reader of bench/soak-kill9.sh (python3 imaplib).

    soak-imap.py HOST PORT USER PASSWORD ACK_FILE STOP_FILE SUMMARY_FILE [once]

Until STOP_FILE exists (or INBOX has no unseen message left): log in, make
1-8 reads in the session (UID STORE +FLAGS (\\Seen) of a random unseen
message, 100-600 ms apart), now and then stay idle in the session for 3 s
(NOOPs) so the plugin's in-session retry gets its turn, log out, log in
again.  Each read the server answered OK is appended to ACK_FILE as
"MAIL_ID USER" (the bare id of the message's X-Mail-Id) only after the OK,
one line each, flushed.  A session that fails (it should not: Dovecot stays
up) is counted and the next one starts.  At the end SUMMARY_FILE gets
"READS SESSIONS ERRORS EXHAUSTED".  With "once": one session with one read
and no idle, then exit (the soak's last read of a user who then stays away).
"""
import imaplib
import os
import random
import re
import sys
import time

ID_RE = re.compile(rb"X-Mail-Id:\s*([0-9A-Za-z]+)", re.I)


def check(result, what):
    typ, data = result
    if typ != "OK":
        raise RuntimeError("%s: %s %r" % (what, typ, data))
    return data


def mail_id(imap, uid):
    data = check(imap.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (X-MAIL-ID)])"),
                 "FETCH")
    for part in data:
        if isinstance(part, tuple):
            m = ID_RE.search(part[1])
            if m:
                return m.group(1).decode()
    raise RuntimeError("uid %s: no X-Mail-Id" % uid)


def session(host, port, user, password, ack, stop, once=False):
    """One session; returns (reads, exhausted)."""
    reads = 0
    imap = imaplib.IMAP4(host, port)
    try:
        check(imap.login(user, password), "LOGIN")
        check(imap.select("INBOX"), "SELECT")
        for _ in range(1 if once else random.randint(1, 8)):
            if os.path.exists(stop):
                break
            uids = check(imap.uid("SEARCH", None, "UNSEEN"), "SEARCH")[0].split()
            if not uids:
                return reads, True
            uid = random.choice(uids).decode()
            mid = mail_id(imap, uid)
            check(imap.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "STORE")
            ack.write("%s %s\n" % (mid, user))
            ack.flush()
            reads += 1
            time.sleep(random.uniform(0.1, 0.6))
        if not once and random.random() < 0.25 and not os.path.exists(stop):
            for _ in range(3):
                time.sleep(1)
                check(imap.noop(), "NOOP")
        imap.logout()
    finally:
        try:
            imap.shutdown()
        except OSError:
            pass
    return reads, False


def main():
    host, port, user, password, ack_path, stop, summary = sys.argv[1:8]
    once = sys.argv[8:9] == ["once"]
    reads = sessions = errors = 0
    exhausted = False
    with open(ack_path, "a") as ack:
        while not exhausted and not os.path.exists(stop) and not (once and sessions):
            sessions += 1
            try:
                n, exhausted = session(host, int(port), user, password, ack, stop, once)
                reads += n
            except (imaplib.IMAP4.error, OSError, RuntimeError) as e:
                errors += 1
                print("soak-imap %s: session %d: %s" % (user, sessions, e),
                      file=sys.stderr)
                time.sleep(0.2)
    with open(summary, "w") as out:
        out.write("%d %d %d %d\n" % (reads, sessions, errors, int(exhausted)))


if __name__ == "__main__":
    main()
