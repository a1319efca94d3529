--@ STORE_DIR=$T/store-is-a-file; : > "$STORE_DIR"
-- Mail always flows: the mail log cannot be opened (its path is a regular
-- file), so the internal mail passes untagged (on_error = accept) with one
-- log line that names the queue id; forged headers are still removed.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" }, qid = "ERR001",
                    headers = { { "X-Mail-Id", "forged" } } })
  T.check(T.accepted(conn), "not accepted")
  T.check(not mt.eom_check(conn, MT_HDRINSERT), "tagged without a record")
  T.check(mt.eom_check(conn, MT_HDRDELETE, "X-Mail-Id"), "forged header kept")
  local n = T.sh(string.format("grep -c 'milter ERR001: mail log write failed.*passing the mail untagged' %q", MLOG))
  T.check(n == "1", "expected one log line naming the queue id, got " .. n)
  mt.disconnect(conn)
end)
