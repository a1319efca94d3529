-- SMTPUTF8: recipients with UTF-8 local parts (MAIL FROM ... SMTPUTF8) are
-- judged by their domain and recorded with the local part as sent.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", from_args = { "SMTPUTF8" },
                    rcpts = { "<j\xc3\xb6rg@a.example>", "<ren\xc3\xa9@c.example>" } })
  T.check(T.tagged(conn), "not tagged")
  local s = T.store_show(mt.getheader(conn, "X-Mail-Id", 0))
  T.check(T.contains(s, "rcpt j\xc3\xb6rg@a.example mx1 sent"), s)
  T.check(T.contains(s, "rcpt ren\xc3\xa9@c.example mx2 sent"), s)
  mt.disconnect(conn)
end)
