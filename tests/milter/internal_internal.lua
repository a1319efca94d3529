-- internal -> internal from a trusted client: both headers inserted at the
-- top (X-Mail-Id first), the MAC binds the sender, the mail log holds the
-- recipient as sent with queue id and Message-ID before the reply; and the
-- milter negotiated away every step it does not use.
dofile(LIB)
T.run(function()
  local conn = T.connect("127.0.0.1")
  -- protocol economy: no body, no HELO, no DATA, no EOH, no replies to RCPT/header
  for _, opt in ipairs({ SMFIP_NOBODY, SMFIP_NOHELO, SMFIP_NODATA, SMFIP_NOEOH,
                         SMFIP_NOUNKNOWN, SMFIP_NR_RCPT, SMFIP_NR_HDR }) do
    T.check(mt.test_option(conn, opt), "step not negotiated away: " .. tostring(opt))
  end
  T.check(mt.test_action(conn, SMFIF_ADDHDRS), "SMFIF_ADDHDRS not requested")
  T.check(mt.test_action(conn, SMFIF_CHGHDRS), "SMFIF_CHGHDRS not requested")
  T.check(not mt.test_action(conn, SMFIF_CHGBODY), "asked for body changes")

  T.message(conn, { from = "<Alice@A.example>", rcpts = { "<bob@a.example>" },
                    qid = "AAA111", msgid = "<one@client.test>" })
  T.check(T.accepted(conn), "not accepted")
  local v = mt.getheader(conn, "X-Mail-Id", 0)
  T.check(v ~= nil and #v == 43, "X-Mail-Id value: " .. tostring(v))
  T.check(mt.eom_check(conn, MT_HDRINSERT, "X-Mail-Id", v, 0), "X-Mail-Id not at index 0")
  T.check(mt.eom_check(conn, MT_HDRINSERT, "X-Sender", "alice@a.example", 0),
          "X-Sender not alice@a.example at index 0")
  T.check(not mt.eom_check(conn, MT_HDRDELETE), "deleted a header")
  local s = T.store_show(v)
  T.check(T.contains(s, "sender=alice@a.example queue_id=AAA111 message_id=<one@client.test>"),
          "mail record: " .. s)
  T.check(T.contains(s, "subject=-"), "subject recorded with record_subject off: " .. s)
  T.check(T.contains(s, "rcpt bob@a.example mx1 sent"), "recipient entry: " .. s)

  -- a second message on the same connection gets a new id
  T.message(conn, { from = "<alice@a.example>", rcpts = { "<dave@a.example>" }, qid = "AAA112" })
  local w = mt.getheader(conn, "X-Mail-Id", 0)
  T.check(w ~= nil and w ~= v, "second message id: " .. tostring(w))
  T.check(T.store_count() == 2, "two mails in the log")
  mt.disconnect(conn)
end)
