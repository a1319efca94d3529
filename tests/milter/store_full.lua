--@ MILTER_STORE_EXTRA=$'map_size = 1M\nmap_size_max = 1M'
-- Mail always flows: a mail log that cannot grow (map_size_max = 1M) fills
-- up; from then on internal mail passes untagged (not rejected, no half
-- state: no header without a record) with one log line naming the queue id.
dofile(LIB)
T.run(function()
  local full_at = nil
  for m = 1, 60 do
    local rcpts = {}
    for i = 1, 500 do rcpts[i] = string.format("<u%02d-%03d@a.example>", m, i) end
    local conn = T.connect("127.0.0.1")
    T.message(conn, { from = "<alice@a.example>", rcpts = rcpts, qid = string.format("FULL%02d", m) })
    T.check(T.accepted(conn), "message " .. m .. " not accepted")
    local tagged = T.tagged(conn)
    local untouched = T.untouched(conn)
    mt.disconnect(conn)
    if not tagged then
      T.check(untouched, "message " .. m .. " half-changed when the map was full")
      full_at = m
      break
    end
  end
  T.check(full_at ~= nil, "the 1M map never filled")
  local n = T.sh(string.format("grep -c 'milter FULL%02d: mail log write failed' %q", full_at, MLOG))
  T.check(n == "1", "expected one log line for FULL" .. full_at .. ", got " .. n)
  -- a small message still flows (tagged if it fits, else untagged), never rejected
  local conn = T.connect("127.0.0.1")
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" }, qid = "AFTER" })
  T.check(T.accepted(conn), "mail stopped after the map filled")
  mt.disconnect(conn)
end)
