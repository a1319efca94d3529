-- Bad input: a sender with CR/LF (header injection) and a 1000-character
-- sender are never put into a header: the mail passes untagged, one log line.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>\r\nBcc: x@ext.example", auth = "alice@a.example",
                    rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(conn), "CRLF sender not accepted")
  T.check(T.untouched(conn), "CRLF sender tagged")

  local long = "<" .. string.rep("a", 988) .. "@a.example>"
  T.check(#long == 1000, "test bug")
  T.message(conn, { from = long, auth = "alice@a.example", rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(conn), "long sender not accepted")
  T.check(T.untouched(conn), "long sender tagged")

  -- the connection still works for a good message afterwards
  T.message(conn, { from = "<alice@a.example>", auth = "alice@a.example", rcpts = { "<bob@a.example>" } })
  T.check(T.tagged(conn), "good message after bad ones not tagged")
  T.check(T.store_count() == 1, "bad senders recorded")
  mt.disconnect(conn)
end)
