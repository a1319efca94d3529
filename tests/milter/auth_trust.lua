-- Judging the sender: authenticated (from anywhere) -> tagged; trusted
-- network without auth -> tagged; neither (bad input: a spoofed internal
-- MAIL FROM from outside) -> untouched.
dofile(LIB)
T.run(function()
  local c1 = T.connect("127.0.0.2")
  T.message(c1, { from = "<alice@a.example>", auth = "alice@a.example", rcpts = { "<bob@a.example>" } })
  T.check(T.tagged(c1), "authenticated submission not tagged")

  local c2 = T.connect("127.0.0.1")
  T.message(c2, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.tagged(c2), "trusted network not tagged")

  local c3 = T.connect("127.0.0.2")
  T.message(c3, { from = "<alice@a.example>", rcpts = { "<bob@a.example>" } })
  T.check(T.accepted(c3), "spoof not accepted (the milter never rejects)")
  T.check(T.untouched(c3), "spoofed internal sender tagged")

  -- an empty {auth_authen} is not authentication
  local c4 = T.connect("127.0.0.2")
  T.message(c4, { from = "<alice@a.example>", auth = "", rcpts = { "<bob@a.example>" } })
  T.check(T.untouched(c4), "empty auth_authen counted as authenticated")
  T.check(T.store_count() == 2, "exactly two mails recorded")
  for _, c in ipairs({ c1, c2, c3, c4 }) do mt.disconnect(c) end
end)
