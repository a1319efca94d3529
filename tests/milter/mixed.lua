-- Mixed recipients: one header set; only in-system recipients (this server
-- and mx2) get entries, each naming its server; n_rcpt counts all three.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>",
                    rcpts = { "<bob@a.example>", "<carol@c.example>", "<x@ext.example>" } })
  T.check(T.tagged(conn), "not tagged")
  T.check(mt.getheader(conn, "X-Mail-Id", 1) == nil, "two X-Mail-Id inserted")
  local s = T.store_show(mt.getheader(conn, "X-Mail-Id", 0))
  T.check(T.contains(s, "rcpt bob@a.example mx1 sent"), s)
  T.check(T.contains(s, "rcpt carol@c.example mx2 sent"), s)
  T.check(not T.contains(s, "x@ext.example"), "external recipient recorded: " .. s)
  T.check(T.contains(s, "n_rcpt=3"), s)
  mt.disconnect(conn)
end)
