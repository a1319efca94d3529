"""roundcube_check.py - the Roundcube plugin in a real Roundcube, driven by a
real headless Chromium (tests/lib/browser.py).  Run by roundcube.sh, which
started Roundcube, Dovecot, Postfix with the milter, and the tracker.

  alice composes to bob and dave in Roundcube (so the Sent copy is
  Roundcube's own APPEND with its own Message-ID); bob opens it in
  Roundcube (preview -> STORE \\Seen -> the Dovecot plugin reports it);
  alice's Sent folder then shows "1 of 2 read", the mark's detail and the
  opened message's panel list bob read with a time and dave not yet.
  Then the tracker stopped, and a tracker that accepts but never answers:
  the list still loads, without marks, without an error message or dialog.

Prints "ok   ..." / "FAIL ..." lines and exits 1 if anything failed.
Environment: RC_URL TRACKER_URL TRACKER_PID PW; screenshots into SHOT_DIR and,
if set, DOCS_DIR.
"""
import base64
import json
import os
import signal
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from browser import Browser, BrowserError  # noqa: E402

RC = os.environ["RC_URL"]
TRACKER = os.environ["TRACKER_URL"]
PW = os.environ.get("PW", "secret")
DOCS = os.environ.get("DOCS_DIR", "")
SHOTS = os.environ.get("SHOT_DIR", os.environ.get("T", "/tmp"))
failed = 0
# dave has not read: "sent", or "received" once Dovecot's LMTP reported the delivery
NOT_YET = ("not read yet", "delivered, not read yet")
NOT_YET_LINES = tuple("dave@a.example: " + t for t in NOT_YET)


def check(what, cond, detail=""):
    global failed
    if cond:
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what + (": " + str(detail) if detail else ""))


def poll(fn, timeout=20.0):
    """Wait for a condition (no blind sleeps): returns its last value."""
    deadline = time.time() + timeout
    v = None
    while time.time() < deadline:
        try:
            v = fn()
        except Exception:  # not there yet (connection refused, 404, ...)
            v = None
        if v:
            return v
        time.sleep(0.1)
    return v


def me_sent(user):
    req = urllib.request.Request(TRACKER + "/v1/me/sent")
    req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, PW)).encode()).decode())
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)["mails"]


def login(b, user):
    b.goto(RC)
    b.type("#rcmloginuser", user)
    b.type("#rcmloginpwd", PW)
    b.click("#rcmloginsubmit")
    b.wait("window.rcmail && rcmail.env.task == 'mail' && !!rcmail.message_list")


def logout(b):
    token = b.eval("rcmail.env.request_token")
    b.goto(RC + "?_task=logout&_token=" + token)
    b.wait("!!document.querySelector('#rcmloginuser')")


def lookups(b):
    return int(b.eval("document.documentElement.dataset.mailstateLookups || '0'"))


def open_sent(b):
    """The Sent folder loaded and its one lookup finished."""
    b.goto(RC + "?_task=mail&_mbox=Sent")
    b.wait("!!rcmail.message_list && rcmail.message_list.rowcount > 0 && "
           "+(document.documentElement.dataset.mailstateLookups || 0) > 0")


def no_error_shown(b):
    return b.eval("document.querySelectorAll('#messagestack .error, #messagestack .warning').length == 0"
                  " && !Array.from(document.querySelectorAll('.ui-dialog')).some(e => e.offsetParent)")


def shot(b, name):
    for d in (SHOTS, DOCS):
        if d:
            b.screenshot(os.path.join(d, name))


with Browser() as b:
    b.viewport(1280, 800)

    # --- alice writes in Roundcube's compose
    login(b, "alice@a.example")
    b.goto(RC + "?_task=mail&_action=compose")
    b.wait("rcmail.env.action == 'compose' && !!document.querySelector('#compose-subject')")
    b.type("#_to + ul.recipient-input input", "bob@a.example, dave@a.example, ")
    b.type("#compose-subject", "Quarterly report")
    b.type("#composebody", "The numbers follow on Monday.")
    b.click("button.btn.btn-primary.send")
    b.wait("rcmail.env.task == 'mail' && rcmail.env.action != 'compose'", timeout=30)
    mails = poll(lambda: me_sent("alice@a.example"))
    check("the tracker has alice's Roundcube mail with 2 recipients",
          mails and len(mails) == 1 and len(mails[0]["recipients"]) == 2, mails)
    sent_msgid = mails[0]["message_id"] if mails else None

    # before bob reads: the mark says none read
    open_sent(b)
    mark = b.eval("(document.querySelector('#messagelist tr .mailstate-mark') || {}).textContent")
    check("before any read the Sent row shows '0 of 2 read'", mark == "0 of 2 read", mark)
    check("the Sent copy's Message-ID is the one the milter recorded",
          sent_msgid and b.eval("Object.values(rcmail.env.mailstate_ids || {}).indexOf(%s) >= 0"
                                % json.dumps(sent_msgid.strip())), sent_msgid)
    logout(b)

    # --- bob opens it in Roundcube (preview marks it \Seen over IMAP)
    login(b, "bob@a.example")
    b.wait("rcmail.message_list.rowcount > 0")
    check("bob's inbox shows no mark (he did not send it)",
          b.eval("document.querySelectorAll('.mailstate-mark').length == 0 && "
                 "Object.keys(rcmail.env.mailstate_ids || {}).length == 0"))
    b.click("#messagelist tbody tr td.subject")
    b.wait("(function(){var f=document.querySelector('#messagecontframe');"
           "return f && f.contentWindow.rcmail && f.contentWindow.rcmail.env.action == 'preview'})()")

    def bob_read():
        m = me_sent("alice@a.example")[0]
        return [r for r in m["recipients"] if r["address"] == "bob@a.example" and r["status"] == "read"]
    check("the tracker records bob's read (via imap)", poll(bob_read))
    logout(b)

    # --- alice's Sent folder: 1 of 2 read
    login(b, "alice@a.example")
    open_sent(b)
    m = b.eval("(function(){var e=document.querySelector('#messagelist tr .mailstate-mark');"
               "return e && {text: e.textContent, title: e.title, cls: e.className}})()")
    check("alice's Sent row shows '1 of 2 read'", m and m["text"] == "1 of 2 read", m)
    check("the mark is 'some read'", m and "mailstate-some" in m["cls"], m)
    lines = (m or {}).get("title", "").split("\n")
    check("the hover detail: bob read with a time, dave not yet",
          len(lines) == 2 and lines[0].startswith("bob@a.example: read ") and
          any(c.isdigit() for c in lines[0]) and lines[1] in NOT_YET_LINES, lines)
    check("one lookup for the list page", lookups(b) == 1, lookups(b))
    shot(b, "screenshot-roundcube-list.png")

    # --- the opened message: the Read status panel
    b.click("#messagelist tbody tr td.subject span.subject")
    panel = b.wait("(function(){var f=document.querySelector('#messagecontframe'), d=f && f.contentDocument,"
                   "p=d && d.querySelector('#mailstate-panel');"
                   "if(!p || p.style.display == 'none') return null;"
                   "return {head: p.querySelector('.mailstate-heading').textContent,"
                   " rows: Array.from(p.querySelectorAll('tr')).map(r => Array.from(r.cells).map(c => c.textContent))}})()")
    check("the panel is headed 'Read status' with '1 of 2 read'",
          panel["head"] == "Read status 1 of 2 read", panel["head"])
    rows = {r[0]: r for r in panel["rows"]}
    check("the panel lists bob read with a time",
          "bob@a.example" in rows and rows["bob@a.example"][1] == "read" and
          any(c.isdigit() for c in rows["bob@a.example"][2]), panel["rows"])
    check("the panel lists dave not read yet, no time",
          "dave@a.example" in rows and rows["dave@a.example"][1] in NOT_YET and
          rows["dave@a.example"][2] == "", panel["rows"])
    shot(b, "screenshot-roundcube-message.png")

    # --- phone width: the list with the mark, a tap shows the detail
    b.viewport(390, 844, mobile=True)
    open_sent(b)
    check("phone: the mark is shown", b.eval("(document.querySelector('.mailstate-mark') || {}).textContent")
          == "1 of 2 read")
    shot(b, "screenshot-roundcube-phone-list.png")
    b.click("#messagelist tr .mailstate-mark")
    dlg = b.wait("(function(){var d=Array.from(document.querySelectorAll('.ui-dialog')).find(e => e.offsetParent);"
                 "return d && d.querySelector('.mailstate-recipients') && d.textContent})()")
    check("phone: a tap on the mark shows who read when",
          "bob@a.example" in dlg and "dave@a.example" in dlg and "not read yet" in dlg, dlg)
    check("phone: the tap did not select or open the message",
          b.eval("rcmail.message_list.get_selection().length") == 0)
    shot(b, "screenshot-roundcube-phone-detail.png")
    b.eval("$('.ui-dialog:visible .ui-dialog-content').dialog('close'), true")
    b.wait("!Array.from(document.querySelectorAll('.ui-dialog')).some(e => e.offsetParent)")
    b.click("#messagelist tbody tr td.subject span.subject")
    b.wait("(function(){var f=document.querySelector('#messagecontframe'), d=f && f.contentDocument,"
           "p=d && d.querySelector('#mailstate-panel'); return p && p.style.display != 'none' && f.offsetParent})()")
    shot(b, "screenshot-roundcube-phone-message.png")
    b.viewport(1280, 800)
    check("no page errors so far", not b.errors, b.errors)

    # --- the tracker stopped: the list loads, no marks, nothing shown
    pid = int(os.environ["TRACKER_PID"])
    os.kill(pid, signal.SIGTERM)
    port = int(TRACKER.rsplit(":", 1)[1])

    def port_closed():
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) != 0
    check("the tracker is down", poll(port_closed))
    open_sent(b)
    check("tracker down: the list loads with its row", b.eval("rcmail.message_list.rowcount") == 1)
    check("tracker down: the lookup answered empty (ok:0)",
          b.eval("document.documentElement.dataset.mailstateLast") == "ok:0",
          b.eval("document.documentElement.dataset.mailstateLast"))
    check("tracker down: no marks", b.eval("document.querySelectorAll('.mailstate-mark').length") == 0)
    check("tracker down: no error message or dialog", no_error_shown(b))

    # --- a tracker that accepts connections and never answers (slow/hung):
    # the plugin gives up after its timeout (<= 1 s) and answers empty
    hung = socket.socket()
    hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hung.bind(("127.0.0.1", port))
    hung.listen(16)
    open_sent(b)
    check("tracker hung: the lookup answered empty (ok:0), not the browser's own timeout",
          b.eval("document.documentElement.dataset.mailstateLast") == "ok:0",
          b.eval("document.documentElement.dataset.mailstateLast"))
    check("tracker hung: no marks", b.eval("document.querySelectorAll('.mailstate-mark').length") == 0)
    check("tracker hung: no error message or dialog", no_error_shown(b))
    b.click("#messagelist tbody tr td.subject span.subject")
    b.wait("(function(){var f=document.querySelector('#messagecontframe'), d=f && f.contentDocument;"
           "return d && +(d.documentElement.dataset.mailstateLookups || 0) > 0})()")
    check("tracker hung: the opened message has no panel",
          b.eval("(function(){var p=document.querySelector('#messagecontframe').contentDocument"
                 ".querySelector('#mailstate-panel'); return !p || p.style.display == 'none'})()"))
    hung.close()
    check("no page errors", not b.errors, b.errors)

print("%d failed" % failed)
sys.exit(1 if failed else 0)
