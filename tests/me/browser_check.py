"""browser_check.py URL OUTDIR M_ALICE M_BOB PASSWORD - the page's checks.

Prints "ok TEXT" / "FAIL TEXT" lines (browser.sh turns them into results).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from browser import Browser, BrowserError  # noqa: E402

url, out, m_alice, m_bob, pw = sys.argv[1:6]
failed = 0


def check(what, cond):
    global failed
    print(("ok " if cond else "FAIL ") + what, flush=True)
    failed += 0 if cond else 1


def mark(b, mail, addr):
    return b.eval("(function(){var r=document.querySelector('[data-mail-id=\"%s\"] "
                  "[data-address=\"%s\"]'); return r ? [r.dataset.status, "
                  "r.querySelector('.mark').textContent] : null;})()" % (mail, addr))


def no_sideways(b, width):
    return b.eval("document.documentElement.scrollWidth") <= width


try:
    with Browser() as b:
        b.viewport(1280, 800)
        b.goto(url + "/")
        b.wait("!document.getElementById('login').hidden")
        check("the login form shows first", b.eval("!!document.querySelector('#login-form')"))

        # bad input: a wrong password shows an error and stays on the form
        b.type("#user", "alice@a.example")
        b.type("#password", "not-the-password")
        b.click("#login-form button[type=submit]")
        b.wait("!document.getElementById('login-error').hidden")
        check("a wrong password: an error, still logged out",
              b.eval("document.getElementById('view').hidden") and
              "Wrong" in b.eval("document.getElementById('login-error').textContent"))

        b.eval("document.getElementById('user').value=''")
        b.type("#user", "alice@a.example")
        b.type("#password", pw)
        b.click("#login-form button[type=submit]")
        b.wait("document.body.dataset.loaded === 'sent'")
        check("logged in as alice", b.eval("document.getElementById('who-name').textContent")
              == "alice@a.example")
        m = mark(b, m_alice, "bob@a.example")
        check("bob is shown read, with the time (%r)" % (m,),
              m is not None and m[0] == "read" and m[1].startswith("Read "))
        m = mark(b, m_alice, "dave@a.example")
        # delivered over LMTP: "received" once the plugin's asynchronous
        # report arrived (issue 11), "sent" before; never read
        check("dave is shown not yet read (%r)" % (m,),
              m is not None and (m[0], m[1]) in (("sent", "Not yet read"),
                                                 ("received", "Received")))
        check("bob's own mail is not in alice's Sent",
              b.eval("!document.querySelector('[data-mail-id=\"%s\"]')" % m_bob))
        check("the deleted-unread mark shows",
              b.eval("!!document.querySelector('[data-status=\"deleted_unread\"] .mark.deleted_unread')"))
        check("1280 px: no sideways scrolling", no_sideways(b, 1280))
        b.screenshot(os.path.join(out, "screenshot-web.png"), full=True)

        # search: a recipient who got nothing from alice -> an empty list
        b.type("#f-rcpt", "carol@a.example")
        b.click("#search button[type=submit]")
        b.wait("document.getElementById('status').textContent === 'No mail found.'")
        check("search by recipient: nothing to carol",
              b.eval("document.querySelectorAll('#list .mail').length") == 0)
        b.eval("document.getElementById('f-rcpt').value=''")

        # a phone: the session cookie survives the reload
        b.viewport(390, 844, mobile=True, scale=2)
        b.goto(url + "/")
        b.wait("document.body.dataset.loaded === 'sent'")
        check("390 px: still logged in (cookie), marks shown",
              mark(b, m_alice, "bob@a.example")[0] == "read")
        check("390 px: no sideways scrolling", no_sideways(b, 390))
        b.screenshot(os.path.join(out, "screenshot-web-phone.png"), full=True)

        b.click(".tab[data-view=reads]")
        b.wait("document.body.dataset.loaded === 'reads'")
        check("Read by me: bob's mail to alice, not yet read by her",
              b.eval("(function(){var r=document.querySelector('[data-mail-id=\"%s\"] "
                     "[data-status]'); return r && r.dataset.status;})()" % m_bob)
              in ("sent", "received"))
        check("no admin tab for alice", b.eval("document.getElementById('tab-all').hidden"))

        b.click("#logout")
        b.wait("!document.getElementById('login').hidden")
        b.goto(url + "/")
        b.wait("!document.getElementById('login').hidden")
        check("after logging out a reload shows the login form",
              b.eval("document.getElementById('view').hidden"))
        check("no script errors on the page (%s)" % b.errors, not b.errors)
except BrowserError as e:
    check("browser: %s" % e, False)
sys.exit(1 if failed else 0)
