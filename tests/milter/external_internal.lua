-- external sender -> internal recipient: not tagged, not recorded (only
-- mail sent from inside the system is tracked).
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.2")
  T.message(conn, { from = "<eve@ext.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(conn), "not accepted")
  T.check(T.untouched(conn), "message was changed")
  -- the same from a trusted relay: still an external sender
  local c2 = T.connect("127.0.0.1")
  T.message(c2, { from = "<eve@ext.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.untouched(c2), "external sender tagged via trusted relay")
  T.check(T.store_count() == 0, "something was recorded")
  mt.disconnect(conn)
  mt.disconnect(c2)
end)
