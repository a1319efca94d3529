-- A valid id relayed by a peer (mx2's user carol wrote to bob here
-- and to someone on mx2): kept, not doubled, not deleted; this server
-- records its own local recipient under that id, not mx2's.
-- The peer is 127.0.0.3 (peer_networks); 127.0.0.1 is only trusted.
--@ MILTER_SYSTEM_EXTRA="peer_networks = 127.0.0.3/32"
dofile(LIB)
T.run(function()
  local v = T.make_id("carol@c.example")
  local conn = T.connect("127.0.0.3")
  T.message(conn, { from = "<carol@c.example>", rcpts = { "<bob@a.example>", "<zoe@c.example>" },
                    headers = { { "X-Mail-Id", v }, { "X-Sender", "carol@c.example" } } })
  T.check(T.accepted(conn), "not accepted")
  T.check(T.untouched(conn), "headers of a valid relayed id were changed")
  local s = T.store_show(v)
  T.check(T.contains(s, "sender=carol@c.example"), s)
  T.check(T.contains(s, "rcpt bob@a.example mx1 sent"), s)
  T.check(not T.contains(s, "zoe@c.example"), "recorded mx2's recipient: " .. s)
  mt.disconnect(conn)
end)
