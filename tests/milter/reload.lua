-- SIGHUP reload: a connection in flight keeps the config it started with; new
-- connections get the new one; a broken config on reload keeps the running
-- one and logs why (bad input: a syntax error in the file).
dofile(LIB)

local function wait_log(pattern, count)
  for _ = 1, 200 do
    local out = T.sh(string.format("grep -c %q %q", pattern, MLOG))
    local n = tonumber(out)
    if n and n >= count then return end
    mt.sleep(0.1)
  end
  error("log never showed: " .. pattern)
end

local function rewrite(fn)
  local f = io.open(CONF, "r"); local text = f:read("a"); f:close()
  f = io.open(CONF, "w"); f:write(fn(text)); f:close()
end

T.run(function()
  local old = T.connect("127.0.0.1")           -- snapshot: tracking on
  rewrite(function(t) return (t:gsub("%[system%]\n", "[system]\ntracking = no\n", 1)) end)
  os.execute("kill -HUP " .. MPID)
  wait_log("reloaded", 1)

  local new = T.connect("127.0.0.1")
  T.message(new, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.untouched(new), "new connection still tagging after tracking = no")
  T.message(old, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.tagged(old), "in-flight connection lost its config snapshot")

  rewrite(function(t) return t .. "\nthis is not ini\n" end)
  os.execute("kill -HUP " .. MPID)
  wait_log("keeping the running configuration", 1)
  local c3 = T.connect("127.0.0.1")
  T.message(c3, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(c3), "mail stopped after a bad reload")
  T.check(T.untouched(c3), "bad reload did not keep the running (tracking = no) config")
  T.check(T.sh(string.format("grep -c 'milter.conf:[0-9]*:' %q", MLOG)) ~= "0",
          "reload error does not name file and line")
  for _, c in ipairs({ old, new, c3 }) do mt.disconnect(c) end
end)
