-- lib.lua - shared helpers for the miltertest scripts (loaded with dofile(LIB)).
-- Globals from run.sh (-D): SOCK (milter socket), TOOL (ms-testtool),
-- STORE (store dir), KEY (system key file), MLOG (milter log), MPID (milter PID).
--
-- miltertest 1.6 prints nothing when a Lua error ends a script, so every
-- script runs its body through T.run(), which reports the error and exits 1.

T = {}

function T.run(body)
  local ok, err = pcall(body)
  if not ok then
    mt.echo("FAIL: " .. tostring(err))
    os.exit(1)
  end
  mt.echo("ok")
end

function T.check(cond, what)
  if not cond then error(what, 2) end
end

-- A connected, negotiated session from client address ip ("127.0.0.1" is
-- trusted in the test config, "127.0.0.2" is not).
function T.connect(ip)
  local conn = mt.connect(SOCK, 40, 0.05)
  T.check(conn ~= nil, "cannot connect to " .. SOCK)
  T.check(mt.negotiate(conn, nil, nil, nil) == nil, "negotiate failed")
  T.check(mt.conninfo(conn, "client.test", ip) == nil, "conninfo failed")
  return conn
end

-- One message: MAIL FROM (with macros i and {auth_authen}), recipients,
-- headers ({name, value} pairs), end of message.  Returns the EOM reply.
function T.message(conn, m)
  local macros = { "i", m.qid or "4F2A1C3" }
  if m.auth then
    macros[#macros + 1] = "{auth_authen}"
    macros[#macros + 1] = m.auth
  end
  T.check(mt.macro(conn, SMFIC_MAIL, table.unpack(macros)) == nil, "macro failed")
  if m.from_args then
    T.check(mt.mailfrom(conn, m.from, table.unpack(m.from_args)) == nil, "mailfrom failed")
  else
    T.check(mt.mailfrom(conn, m.from) == nil, "mailfrom failed")
  end
  for _, r in ipairs(m.rcpts or {}) do
    T.check(mt.rcptto(conn, r) == nil, "rcptto failed: " .. r)
  end
  local hdrs = m.headers or {}
  hdrs[#hdrs + 1] = { "From", "sender <x@y.example>" }
  hdrs[#hdrs + 1] = { "Message-ID", m.msgid or "<m1@client.test>" }
  hdrs[#hdrs + 1] = { "Subject", "test" }
  for _, h in ipairs(hdrs) do
    T.check(mt.header(conn, h[1], h[2]) == nil, "header failed: " .. h[1])
  end
  T.check(mt.eom(conn) == nil, "eom failed")
  return mt.getreply(conn)
end

function T.accepted(conn)
  local r = mt.getreply(conn)
  return r == SMFIR_CONTINUE or r == SMFIR_ACCEPT
end

function T.tagged(conn)
  return mt.eom_check(conn, MT_HDRINSERT, "X-Mail-Id") and
         mt.eom_check(conn, MT_HDRINSERT, "X-Sender")
end

function T.untouched(conn)
  return not mt.eom_check(conn, MT_HDRINSERT) and not mt.eom_check(conn, MT_HDRADD)
     and not mt.eom_check(conn, MT_HDRDELETE) and not mt.eom_check(conn, MT_HDRCHANGE)
end

-- Output of a shell command (trailing newline removed) and its success.
function T.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return (out:gsub("\n$", "")), ok
end

-- What the mail log holds for a mail id: "mail ..." line, then one
-- "rcpt ADDRESS SERVER STATUS" line per recipient (see ms-testtool.c).
function T.store_show(value)
  local id = string.sub(value, 1, 26)
  return T.sh(string.format("%q show %q %q", TOOL, STORE, id))
end

-- Number of mails in the log.
function T.store_count()
  local out = T.sh(string.format("%q count %q", TOOL, STORE))
  return tonumber(out)
end

-- A valid X-Mail-Id value for sender under the test key (a peer's tag).
function T.make_id(sender)
  local out, ok = T.sh(string.format("%q mkid %q %q", TOOL, KEY, sender))
  T.check(ok, "mkid failed: " .. out)
  return out
end

function T.contains(hay, needle)
  return string.find(hay, needle, 1, true) ~= nil
end
