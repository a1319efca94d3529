-- Attack (issue 14 item 4): an authenticated mallory sends MAIL FROM:<ceo@>.
-- By default the SMTP AUTH login must be the sender's address or be allowed
-- by sender_login_maps (Postfix smtpd_sender_login_maps format); otherwise
-- the mail passes untagged (never rejected) and the log says why.
--@ printf '%s\n' '# sender   logins' 'boss@a.example   assistant@a.example, alice@a.example' \
--@     '@a.example  relay-a' '  , deputy' > "$T/login.map"
--@ MILTER_MILTER_EXTRA="sender_login_maps = $T/login.map"
dofile(LIB)
T.run(function()
  local function send(from, login)
    local c = T.connect("127.0.0.2")
    T.message(c, { from = from, auth = login, rcpts = { "<bob@a.example>" } })
    T.check(T.accepted(c), "not accepted: " .. from .. " as " .. login)
    return c
  end
  local c1 = send("<ceo@a.example>", "mallory@a.example")
  T.check(T.untouched(c1), "mallory tagged as ceo")
  -- also from a trusted network: an authenticated login is held to its address
  local c1b = T.connect("127.0.0.1")
  T.message(c1b, { from = "<ceo@a.example>", auth = "mallory@a.example", rcpts = { "<bob@a.example>" } })
  T.check(T.untouched(c1b), "mallory tagged as ceo from a trusted network")
  local c2 = send("<Alice@A.EXAMPLE>", "alice@a.example")
  T.check(T.tagged(c2), "own address (other case) not tagged")
  local c3 = send("<boss@a.example>", "assistant@a.example")
  T.check(T.tagged(c3), "a login the map allows not tagged")
  local c4 = send("<boss+x@a.example>", "alice@a.example")
  T.check(T.tagged(c4), "map entry not found through the recipient delimiter")
  local c5 = send("<anyone@a.example>", "deputy")
  T.check(T.tagged(c5), "@domain entry (continuation line) not used")
  local c6 = send("<boss@a.example>", "relay-a")
  T.check(T.untouched(c6), "an address entry fell back to its @domain")
  T.check(T.store_count() == 4, "exactly four mails recorded")
  local log = T.sh("cat " .. MLOG)
  T.check(T.contains(log, "SMTP AUTH login mallory@a.example may not send as ceo@a.example"),
          "the log does not say why mallory's mail was not tagged")
  for _, c in ipairs({ c1, c1b, c2, c3, c4, c5, c6 }) do mt.disconnect(c) end
end)
