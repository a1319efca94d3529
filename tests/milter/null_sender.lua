-- The null sender <> (a bounce) is never tagged, even authenticated from a
-- trusted network.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<>", auth = "alice@a.example", rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(conn), "not accepted")
  T.check(T.untouched(conn), "bounce tagged")
  T.check(T.store_count() == 0, "bounce recorded")
  mt.disconnect(conn)
end)
