"""imap.py - one IMAP session for the Dovecot plugin tests (python3 imaplib).

    imap.py HOST PORT USER PASSWORD ACTION...

Messages are picked in INBOX by their Subject.  Actions:
    seen:SUBJ         UID STORE +FLAGS (\\Seen)       (prints its duration)
    seen-all          STORE 1:* +FLAGS (\\Seen)       (prints its duration)
    fetch:SUBJ        UID FETCH BODY[]               (sets \\Seen)
    peek:SUBJ         UID FETCH BODY.PEEK[]          (does not)
    delete:SUBJ       UID STORE +FLAGS (\\Deleted), then EXPUNGE
    move:SUBJ:BOX     UID MOVE to BOX
    flags:SUBJ        prints "flags SUBJ: ..." as the server has them
    sleep:SECONDS     stay in the session (let async requests finish)
Prints "timing ACTION SECONDS" lines for seen/seen-all and logout, and exits
non-zero on any IMAP error.
"""
import imaplib
import sys
import time


def uid_of(imap, subject):
    typ, data = imap.uid("SEARCH", None, "HEADER", "Subject", '"%s"' % subject)
    uids = data[0].split() if typ == "OK" and data[0] else []
    if len(uids) != 1:
        raise SystemExit("subject %r: %d messages in INBOX" % (subject, len(uids)))
    return uids[0].decode()


def check(result, what):
    typ, data = result
    if typ != "OK":
        raise SystemExit("%s: %s %r" % (what, typ, data))
    return data


def main():
    host, port, user, password = sys.argv[1:5]
    imap = imaplib.IMAP4(host, int(port))
    check(imap.login(user, password), "LOGIN")
    check(imap.select("INBOX"), "SELECT")
    for action in sys.argv[5:]:
        verb, _, arg = action.partition(":")
        if verb == "seen":
            uid = uid_of(imap, arg)
            start = time.monotonic()
            check(imap.uid("STORE", uid, "+FLAGS", "(\\Seen)"), action)
            print("timing %s %.4f" % (action, time.monotonic() - start))
        elif verb == "seen-all":
            start = time.monotonic()
            check(imap.store("1:*", "+FLAGS", "(\\Seen)"), action)
            print("timing %s %.4f" % (action, time.monotonic() - start))
        elif verb == "fetch":
            check(imap.uid("FETCH", uid_of(imap, arg), "(BODY[])"), action)
        elif verb == "peek":
            check(imap.uid("FETCH", uid_of(imap, arg), "(BODY.PEEK[])"), action)
        elif verb == "delete":
            check(imap.uid("STORE", uid_of(imap, arg), "+FLAGS", "(\\Deleted)"), action)
            check(imap.expunge(), "EXPUNGE")
        elif verb == "move":
            subject, _, box = arg.partition(":")
            check(imap.uid("MOVE", uid_of(imap, subject), box), action)
        elif verb == "flags":
            data = check(imap.uid("FETCH", uid_of(imap, arg), "(FLAGS)"), action)
            print("flags %s: %s" % (arg, data[0].decode()))
        elif verb == "sleep":
            time.sleep(float(arg))
            check(imap.noop(), "NOOP")
        else:
            raise SystemExit("unknown action %r" % action)
    start = time.monotonic()
    imap.logout()
    print("timing logout %.4f" % (time.monotonic() - start))


if __name__ == "__main__":
    main()
