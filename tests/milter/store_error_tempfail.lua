--@ MILTER_ON_ERROR=tempfail; STORE_DIR=$T/store-is-a-file; : > "$STORE_DIR"
-- on_error = tempfail: the same store trouble answers 4xx instead, and mail
-- the milter does not need to record (external sender) still passes.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" }, qid = "ERR002" })
  T.check(mt.getreply(conn) == SMFIR_TEMPFAIL, "reply was not tempfail")
  T.check(T.untouched(conn), "changed a tempfailed message")
  local conn2 = T.connect("127.0.0.1")
  T.message(conn2, { from = "<eve@ext.example>", rcpts = { "<bob@a.example>" }, qid = "ERR003" })
  T.check(T.accepted(conn2), "untracked mail not accepted")
  local n = T.sh(string.format("grep -c 'milter ERR002: .*answering 4xx' %q", MLOG))
  T.check(n == "1", "expected one log line naming the queue id, got " .. n)
  mt.disconnect(conn)
  mt.disconnect(conn2)
end)
