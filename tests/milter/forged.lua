-- Bad input: two forged X-Mail-Id and one X-Sender from an untrusted client
-- (one of them even carries a valid MAC) are all deleted; nothing inserted.
dofile(LIB)
T.run(function()
  local good = T.make_id("alice@a.example")
  local conn = T.connect("127.0.0.2")
  T.message(conn, { from = "<eve@ext.example>", rcpts = { "<bob@a.example>" },
                    headers = { { "X-Mail-Id", "01JDQ00000000000000000000A.AAAAAAAAAAAAAAAA" },
                                { "X-Sender", "alice@a.example" },
                                { "x-mail-id", good } } })
  T.check(T.accepted(conn), "not accepted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Mail-Id"), "X-Mail-Id not deleted")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Sender"), "X-Sender not deleted")
  T.check(not mt.eom_check(conn, MT_HDRINSERT), "inserted a header")
  T.check(T.store_count() == 0, "recorded a forged mail")
  local log = T.sh(string.format("grep -c 'removed 2 X-Mail-Id and 1 X-Sender' %q", MLOG))
  T.check(log == "1", "log line about the removal missing")
  mt.disconnect(conn)
end)
