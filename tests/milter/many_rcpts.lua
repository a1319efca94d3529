-- 500 recipients (250 here, 250 on mx2): one header set, 500 entries.
dofile(LIB)
T.run(function()
  local rcpts = {}
  for i = 1, 500 do
    rcpts[i] = string.format("<user%03d@%s>", i, i % 2 == 0 and "a.example" or "c.example")
  end
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = rcpts })
  T.check(T.tagged(conn), "not tagged")
  local s = T.store_show(mt.getheader(conn, "X-Mail-Id", 0))
  local n = select(2, string.gsub(s, "\nrcpt ", ""))
  T.check(n == 500, "entries: " .. n)
  T.check(T.contains(s, "rcpt user500@a.example mx1 sent"), "last recipient")
  T.check(T.contains(s, "rcpt user001@c.example mx2 sent"), "first recipient")
  mt.disconnect(conn)
end)
