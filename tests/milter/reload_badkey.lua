-- Bad input on reload: the key file became group/world readable (the config
-- loader refuses such a key).  The reload is refused, the running config and
-- its key stay, and mail keeps flowing and being tagged with the old key.
dofile(LIB)
T.run(function()
  os.execute(string.format("chmod 0644 %q", KEY))
  os.execute("kill -HUP " .. MPID)
  local seen = false
  for _ = 1, 200 do
    if T.sh(string.format("grep -c 'keeping the running configuration' %q", MLOG)) ~= "0" then
      seen = true
      break
    end
    mt.sleep(0.1)
  end
  T.check(seen, "bad key reload not logged")
  T.check(T.sh(string.format("grep -c 'chmod 600' %q", MLOG)) ~= "0", "reason not logged")
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(conn), "not accepted")
  T.check(T.tagged(conn), "not tagged with the running config")
  local v = mt.getheader(conn, "X-Mail-Id", 0)
  T.check(T.contains(T.store_show(v), "rcpt bob@a.example mx1 sent"), "not recorded")
  mt.disconnect(conn)
end)
