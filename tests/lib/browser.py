"""browser.py - a real headless Chromium driven over the DevTools protocol.

For tests of anything a person looks at (the web page, the Roundcube
plugin).  One Chromium per test run; run with /usr/bin/python3 (Debian's
python3-websocket).  Nothing is mocked: the page runs its own JavaScript
against the real server.

    from browser import Browser
    with Browser() as b:                     # starts chromium, opens a tab
        b.viewport(1280, 800)                # or (390, 844, mobile=True)
        b.goto("http://127.0.0.1:8026/")     # waits for the load event
        b.type("#user", "alice@a.example")   # focus + real key input
        b.click("button[type=submit]")       # a real mouse click at its centre
        b.wait("document.body.dataset.loaded === 'sent'")   # poll a JS condition
        b.eval("document.title")             # a JS value (returnByValue)
        b.screenshot("/tmp/page.png", full=True)

Waits poll a condition (default 20 s) and raise BrowserError with the last
value on timeout; nothing sleeps blindly.  Console errors and uncaught
exceptions of the page are collected in b.errors (a test should assert it
is empty).  Chromium runs as root with --no-sandbox in a private profile
directory that close() removes.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, timeout=20.0):
        self.timeout = timeout
        self.errors = []
        self._id = 0
        self._events = []
        self._dir = tempfile.mkdtemp(prefix="ms-chromium-")
        self._proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-port=0", "--remote-allow-origins=*",
             "--user-data-dir=" + self._dir, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = self._proc.stderr.readline().decode(errors="replace")
            if not line and self._proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            self.close()
            raise BrowserError("chromium did not start (no DevTools port)")
        # Keep draining stderr so chromium never blocks on a full pipe.
        import threading
        threading.Thread(target=self._proc.stderr.read, daemon=True).start()
        page = None
        while page is None and time.time() < deadline:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            page = pages[0] if pages else None
        if page is None:
            self.close()
            raise BrowserError("chromium has no page target")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"],
                                               timeout=self.timeout, suppress_origin=True)
        self.call("Page.enable")
        self.call("Runtime.enable")

    # -- the protocol
    def call(self, method, **params):
        self._id += 1
        my = self._id
        self._ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise BrowserError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg):
        m = msg.get("method")
        if m == "Runtime.exceptionThrown":
            d = msg["params"]["exceptionDetails"]
            self.errors.append("exception: %s" % d.get("exception", {}).get("description", d.get("text")))
        elif m == "Runtime.consoleAPICalled" and msg["params"].get("type") == "error":
            self.errors.append("console.error: %s" % " ".join(
                str(a.get("value", a.get("description", ""))) for a in msg["params"]["args"]))
        self._events.append(m)

    def _wait_event(self, name, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        while time.time() < deadline:
            if name in self._events:
                self._events.remove(name)
                return
            self._ws.settimeout(max(0.1, deadline - time.time()))
            try:
                self._event(json.loads(self._ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
        raise BrowserError("no %s within %ss" % (name, timeout or self.timeout))

    # -- what a test does
    def viewport(self, width, height, mobile=False, scale=1):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=scale, mobile=mobile)

    def goto(self, url):
        self._events = [e for e in self._events if e != "Page.loadEventFired"]
        res = self.call("Page.navigate", url=url)
        if res.get("errorText"):
            raise BrowserError("navigate %s: %s" % (url, res["errorText"]))
        self._wait_event("Page.loadEventFired")

    def eval(self, expr):
        res = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise BrowserError("eval %r: %s" % (expr, res["exceptionDetails"].get("text")))
        return res.get("result", {}).get("value")

    def wait(self, expr, timeout=None):
        deadline = time.time() + (timeout or self.timeout)
        last = None
        while time.time() < deadline:
            last = self.eval("(function(){try{return (%s);}catch(e){return null;}})()" % expr)
            if last:
                return last
            time.sleep(0.05)
        raise BrowserError("timed out waiting for %s (last value %r)" % (expr, last))

    def _centre(self, selector):
        box = self.wait("(function(){var e=document.querySelector(%s); if(!e||!e.offsetParent)"
                        "return null; e.scrollIntoView({block:'center'});"
                        "var r=e.getBoundingClientRect(); return [r.left+r.width/2, r.top+r.height/2];})()"
                        % json.dumps(selector))
        return box[0], box[1]

    def click(self, selector):
        x, y = self._centre(selector)
        for t in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=t, x=x, y=y, button="left",
                      clickCount=0 if t == "mouseMoved" else 1)

    def type(self, selector, text):
        self.click(selector)
        self.call("Input.insertText", text=text)

    def screenshot(self, path, full=False):
        params = {"format": "png"}
        if full:
            size = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if getattr(self, "_ws", None):
                self._ws.close()
        except Exception:
            pass
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
