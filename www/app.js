// mailstate web page: login, "Sent", "Read by me", admin search.
// Talks only to the tracker's /v1 API (same origin, session cookie).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { me: null, view: "sent", cursors: [""], page: 0, next: "" };

function api(method, path, body) {
  const opt = { method, credentials: "same-origin",
                headers: { "X-Requested-With": "XMLHttpRequest" } };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  return fetch(path, opt).then(async (r) => {
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  });
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const fmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short",
                                                 hour: "2-digit", minute: "2-digit" });
function when(iso) { return iso ? fmt.format(new Date(iso)) : ""; }

function markOf(r) {
  switch (r.status) {
    case "read": return ["read", "Read " + when(r.first_read)];
    case "received": return ["received", "Received"];
    case "deleted_unread": return ["deleted_unread", "Deleted unread"];
    default: return ["sent", "Not yet read"];
  }
}

function show(loggedIn) {
  $("login").hidden = loggedIn;
  $("view").hidden = !loggedIn;
  $("tabs").hidden = !loggedIn;
  $("who").hidden = !loggedIn;
  if (loggedIn) {
    $("who-name").textContent = state.me.address || state.me.user;
    $("tab-all").hidden = !state.me.admin;
  }
}

function dayStart(v, plus) {
  if (!v) return "";
  const d = new Date(v + "T00:00:00");
  d.setDate(d.getDate() + (plus || 0));
  return d.toISOString();
}

function query() {
  const p = new URLSearchParams();
  const rc = $("f-rcpt").value.trim(), sd = $("f-sender").value.trim();
  if (rc && state.view !== "reads") p.set("recipient", rc);
  if (sd && state.view === "all") p.set("sender", sd);
  if ($("f-since").value) p.set("since", dayStart($("f-since").value));
  if ($("f-until").value) p.set("until", dayStart($("f-until").value, 1));
  p.set("limit", "20");
  const c = state.cursors[state.page];
  if (c) p.set("cursor", c);
  return p.toString();
}

function renderMail(m, mine) {
  const li = el("li", "mail");
  li.dataset.mailId = m.mail_id;
  const head = el("div", "mail-head");
  const names = m.recipients.map((r) => r.address.split("@")[0]).join(", ");
  head.append(el("span", "subject", m.subject || "To " + names),
              el("span", "when", when(m.created)));
  li.append(head);
  const sum = m.summary;
  let meta = (mine ? "" : "From " + m.sender + " · ");
  if (sum) meta += sum.read + " of " + sum.total + " read";
  if (m.message_id && !m.subject) meta += " · " + m.message_id.trim();
  li.append(el("div", "meta", meta));
  const ul = el("ul", "rcpts");
  for (const r of m.recipients) {
    const row = el("li", "rcpt");
    row.dataset.address = r.address;
    row.dataset.status = r.status;
    const [cls, text] = markOf(r);
    row.append(el("span", "addr", r.address), el("span", "mark " + cls, text));
    ul.append(row);
  }
  li.append(ul);
  return li;
}

function renderRead(r) {
  const li = el("li", "mail");
  li.dataset.mailId = r.mail_id;
  const head = el("div", "mail-head");
  head.append(el("span", "subject", r.subject || "From " + r.sender),
              el("span", "when", when(r.created)));
  li.append(head);
  const row = el("div", "rcpt");
  row.dataset.status = r.status;
  const [cls, text] = markOf(r);
  const detail = r.via ? "reported via " + r.via : "";
  row.append(el("span", "addr muted", (r.subject ? "From " + r.sender + " · " : "") + detail),
             el("span", "mark " + cls, r.status === "read" ? "You read it " + when(r.first_read) : text));
  li.append(row);
  return li;
}

async function load() {
  const path = { sent: "/v1/me/sent", reads: "/v1/me/reads", all: "/v1/me/all" }[state.view];
  $("status").textContent = "Loading…";
  const q = query();
  const res = await api("GET", path + "?" + q);
  const list = $("list");
  list.replaceChildren();
  if (res.status === 401) { state.me = null; show(false); return; }
  if (res.status !== 200 || !res.data) {
    $("status").textContent = (res.data && res.data.detail) || "The tracker did not answer.";
    return;
  }
  const items = state.view === "reads" ? res.data.reads : res.data.mails;
  for (const it of items)
    list.append(state.view === "reads" ? renderRead(it) : renderMail(it, state.view === "sent"));
  state.next = res.data.next_cursor || "";
  $("status").textContent = items.length ? "" :
    (state.view === "reads" ? "No mail to you was recorded." : "No mail found.");
  $("prev").disabled = state.page === 0;
  $("next").disabled = !state.next;
  $("pager").hidden = state.page === 0 && !state.next;
  document.body.dataset.loaded = state.view;
}

function switchView(v) {
  state.view = v;
  state.cursors = [""];
  state.page = 0;
  for (const t of document.querySelectorAll(".tab"))
    if (t.dataset.view === v) t.setAttribute("aria-current", "page");
    else t.removeAttribute("aria-current");
  $("f-rcpt-l").hidden = v === "reads";
  $("f-sender-l").hidden = v !== "all";
  $("search").classList.toggle("admin", v === "all");
  load();
}

async function start() {
  const res = await api("GET", "/v1/me");
  if (res.status === 200) {
    state.me = res.data;
    show(true);
    switchView("sent");
  } else {
    show(false);
    if (res.status === 404 || res.status === 503)
      showError((res.data && res.data.detail) || "Login is not available.");
  }
}

function showError(text) {
  const e = $("login-error");
  e.textContent = text;
  e.hidden = !text;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showError("");
    const res = await api("POST", "/v1/session",
                          { user: $("user").value.trim(), password: $("password").value });
    $("password").value = "";
    if (res.status === 200) {
      state.me = res.data;
      show(true);
      switchView("sent");
    } else if (res.status === 401) {
      showError("Wrong mail address or password.");
    } else {
      showError((res.data && res.data.detail) || "Login failed.");
    }
  });
  $("logout").addEventListener("click", async () => {
    await api("DELETE", "/v1/session");
    state.me = null;
    $("list").replaceChildren();
    show(false);
  });
  for (const t of document.querySelectorAll(".tab"))
    t.addEventListener("click", () => switchView(t.dataset.view));
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.cursors = [""];
    state.page = 0;
    load();
  });
  $("next").addEventListener("click", () => {
    if (!state.next) return;
    state.cursors[state.page + 1] = state.next;
    state.page++;
    load();
  });
  $("prev").addEventListener("click", () => {
    if (state.page === 0) return;
    state.page--;
    load();
  });
  start();
});
