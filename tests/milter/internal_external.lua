-- internal -> external only: nothing to track, the message is untouched and
-- nothing is written to the mail log.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<x@ext.example>", "<y@other.test>" } })
  T.check(T.accepted(conn), "not accepted")
  T.check(T.untouched(conn), "message was changed")
  T.check(T.store_count() == 0, "something was recorded")
  mt.disconnect(conn)
end)
