-- Bad input: a tampered MAC from a trusted client is deleted (with its
-- X-Sender) and, the sender being in the system, a fresh id is inserted.
dofile(LIB)
T.run(function()
  local v = T.make_id("alice@a.example")
  local last = string.sub(v, -1)
  local bad = string.sub(v, 1, -2) .. (last == "A" and "B" or "A")
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" },
                    headers = { { "X-Mail-Id", bad }, { "X-Sender", "alice@a.example" } } })
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Mail-Id"), "tampered id kept")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Sender"), "its X-Sender kept")
  T.check(T.tagged(conn), "not re-tagged")
  local w = mt.getheader(conn, "X-Mail-Id", 0)
  T.check(w ~= bad and w ~= v, "re-used the incoming id")
  T.check(T.sh(string.format("%q show %q %q", TOOL, STORE, string.sub(v, 1, 26))) == "notfound",
          "tampered id recorded")
  mt.disconnect(conn)
end)
