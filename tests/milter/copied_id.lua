-- Attack (design §11, issue 14 item 5): a client in trusted_networks that is
-- not a peer (local sendmail(1), webmail on 127.0.0.1) hands in a genuine
-- X-Mail-Id/X-Sender pair copied from another mail, hoping its recipients
-- get recorded under someone else's mail.  The copied pair must be removed
-- and the mail tagged afresh; nothing is recorded under the copied id.
--@ MILTER_SYSTEM_EXTRA="peer_networks = 127.0.0.3/32"
dofile(LIB)
T.run(function()
  local v = T.make_id("carol@c.example")
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" },
                    headers = { { "X-Mail-Id", v }, { "X-Sender", "carol@c.example" } } })
  T.check(T.accepted(conn), "not accepted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Mail-Id"), "copied X-Mail-Id not removed")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Sender"), "copied X-Sender not removed")
  T.check(T.tagged(conn), "not tagged afresh")
  local s = T.store_show(v)
  T.check(not T.contains(s, "rcpt bob@a.example"), "recorded under the copied id: " .. s)
  T.check(T.store_count() == 1, "exactly one (new) mail recorded")
  mt.disconnect(conn)
end)
