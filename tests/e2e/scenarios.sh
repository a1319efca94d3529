# scenarios.sh - end-to-end scenarios of issue 3, MTA-neutral (bash).
#
# The caller sources tests/lib/common.sh, tests/lib/milter.sh and one MTA
# adapter (tests/lib/postfix.sh or tests/lib/sendmail.sh), calls t_init, then
# scenarios_run.  Needs $MILTER_BIN and $MS_TESTTOOL (CTest sets both).
#
# Every scenario sends one message with a unique Subject, waits for it in the
# recipient's mailbox (mta_messages), then checks the delivered headers and
# the mail log (ms-testtool show reads the LMDB store the milter wrote).
# Client 127.0.0.1 is trusted, 127.0.0.2 is not (milter_conf).

SC_STORE=
SC_UNTRUSTED=(--local-interface 127.0.0.2)

# sc_find USER SUBJECT: the delivered file of USER with that Subject.
sc_find() {
    local f
    for f in $(mta_messages "$1"); do
        if [ "$(t_header "$f" Subject)" = "$2" ]; then
            printf '%s\n' "$f"
            return 0
        fi
    done
    return 1
}

# sc_wait USER SUBJECT: wait for delivery, print the file.
sc_wait() {
    t_wait sc_find "$1" "$2" || { t_log "no message '$2' for $1"; return 1; }
    sc_find "$1" "$2"
}

sc_count() { t_header "$1" "$2" | wc -l; }

# The store line for a mail id (first 26 characters of the header value).
sc_show() { "$MS_TESTTOOL" show "$SC_STORE" "${1:0:26}"; }

# X-Mail-Id and X-Sender come before the MTA's own first Received: line.
sc_above_received() {
    t_header_names "$1" | awk '
        tolower($0) == "received" && !r { r = NR }
        tolower($0) == "x-mail-id" { m = NR } tolower($0) == "x-sender" { s = NR }
        END { exit !(m && s && r && m < r && s < r) }'
}

sc_internal() {
    local f v s qid
    mta_send alice@a.example bob@a.example -- --header "Subject: sc-internal" ||
        { t_fail "internal: send"; return; }
    f=$(sc_wait bob sc-internal) || { t_fail "internal: delivered"; return; }
    t_check "internal: one X-Mail-Id" [ "$(sc_count "$f" X-Mail-Id)" = 1 ]
    t_check "internal: X-Sender is the envelope sender" \
        [ "$(t_header "$f" X-Sender)" = alice@a.example ]
    t_check "internal: headers above the MTA's Received:" sc_above_received "$f"
    v=$(t_header "$f" X-Mail-Id)
    s=$(sc_show "$v")
    qid=$(mta_queue_id "$f")
    t_check "internal: mail log has bob as sent" grep -q "^rcpt bob@a.example mx1 sent$" <<<"$s"
    t_check "internal: mail log has the MTA's queue id ($qid)" \
        grep -q "sender=alice@a.example queue_id=$qid " <<<"$s"
}

sc_external_sender() {
    local f
    mta_send eve@ext.example dave@a.example -- "${SC_UNTRUSTED[@]}" \
        --header "Subject: sc-external" || { t_fail "external: send"; return; }
    f=$(sc_wait dave sc-external) || { t_fail "external: delivered"; return; }
    t_check "external sender: not tagged" [ "$(sc_count "$f" X-Mail-Id)" = 0 ]
}

# Bad input: an internal MAIL FROM from an untrusted client without AUTH.
sc_spoof() {
    local f
    mta_send alice@a.example carol@a.example -- "${SC_UNTRUSTED[@]}" \
        --header "Subject: sc-spoof" || { t_fail "spoof: send"; return; }
    f=$(sc_wait carol sc-spoof) || { t_fail "spoof: delivered"; return; }
    t_check "spoofed internal sender: not tagged" [ "$(sc_count "$f" X-Mail-Id)" = 0 ]
    t_check "spoofed internal sender: no X-Sender" [ "$(sc_count "$f" X-Sender)" = 0 ]
}

# Bad input: forged X-Mail-Id x2 (one with a valid MAC) + X-Sender from outside.
sc_forged() {
    local f good
    good=$("$MS_TESTTOOL" mkid "$T/system.key" alice@a.example)
    mta_send eve@ext.example bob@a.example -- "${SC_UNTRUSTED[@]}" \
        --header "Subject: sc-forged" \
        --add-header "X-Mail-Id: 01JDQ00000000000000000000A.AAAAAAAAAAAAAAAA" \
        --add-header "X-Sender: alice@a.example" \
        --add-header "X-Other: keep me" \
        --add-header "X-Mail-Id: $good" || { t_fail "forged: send"; return; }
    f=$(sc_wait bob sc-forged) || { t_fail "forged: delivered"; return; }
    t_check "forged: every X-Mail-Id removed" [ "$(sc_count "$f" X-Mail-Id)" = 0 ]
    t_check "forged: X-Sender removed" [ "$(sc_count "$f" X-Sender)" = 0 ]
    t_check "forged: other headers untouched" [ "$(t_header "$f" X-Other)" = "keep me" ]
    t_check "forged: valid-MAC id not recorded" \
        [ "$(sc_show "$good")" = notfound ]
}

sc_mixed() {
    local f s
    mta_send alice@a.example bob@a.example carol@c.example x@ext.example -- \
        --header "Subject: sc-mixed" || { t_fail "mixed: send"; return; }
    f=$(sc_wait bob sc-mixed) || { t_fail "mixed: delivered"; return; }
    t_check "mixed: one X-Mail-Id" [ "$(sc_count "$f" X-Mail-Id)" = 1 ]
    s=$(sc_show "$(t_header "$f" X-Mail-Id)")
    t_check "mixed: local recipient recorded" grep -q "^rcpt bob@a.example mx1 sent$" <<<"$s"
    t_check "mixed: mx2's recipient recorded" grep -q "^rcpt carol@c.example mx2 sent$" <<<"$s"
    t_check "mixed: external recipient not recorded" eval "! grep -q x@ext.example <<<\"\$s\""
    t_check "mixed: n_rcpt counts all three" grep -q "n_rcpt=3$" <<<"$s"
}

# A peer server (127.0.0.3, peer_networks) relays carol@c.example's tagged
# mail to dave here.
sc_peer() {
    local f v
    v=$("$MS_TESTTOOL" mkid "$T/system.key" carol@c.example)
    mta_send carol@c.example dave@a.example -- --local-interface 127.0.0.3 \
        --header "Subject: sc-peer" \
        --add-header "X-Mail-Id: $v" --add-header "X-Sender: carol@c.example" ||
        { t_fail "peer: send"; return; }
    f=$(sc_wait dave sc-peer) || { t_fail "peer: delivered"; return; }
    t_check "peer: the relayed id is kept, not doubled" [ "$(t_header "$f" X-Mail-Id)" = "$v" ]
    t_check "peer: local recipient recorded under it" \
        grep -q "^rcpt dave@a.example mx1 sent$" <<<"$(sc_show "$v")"
}

# Attack (issue 14 item 5): a trusted client that is not a peer (webmail,
# local submission on 127.0.0.1) hands in a genuine id copied from carol's
# mail.  The copy is removed, the mail tagged afresh, and nothing is
# recorded under carol's id.
sc_copied() {
    local f v
    v=$("$MS_TESTTOOL" mkid "$T/system.key" carol@c.example)
    mta_send alice@a.example bob@a.example -- --header "Subject: sc-copied" \
        --add-header "X-Mail-Id: $v" --add-header "X-Sender: carol@c.example" ||
        { t_fail "copied: send"; return; }
    f=$(sc_wait bob sc-copied) || { t_fail "copied: delivered"; return; }
    t_check "copied: one X-Mail-Id, a new one" \
        [ "$(sc_count "$f" X-Mail-Id)" = 1 -a "$(t_header "$f" X-Mail-Id)" != "$v" ]
    t_check "copied: X-Sender is the real sender" [ "$(t_header "$f" X-Sender)" = alice@a.example ]
    t_check "copied: nothing recorded under the copied id" \
        eval "! grep -q '^rcpt bob@a.example' <<<\"\$(sc_show \"\$v\")\""
}

# SMTP AUTH from an untrusted address: the MTA hands {auth_authen} to the
# milter, so the internal sender counts as in-system (adapters with mta_auth).
sc_auth() {
    local f
    declare -F mta_auth >/dev/null || return 0
    mta_auth alice@a.example s3cret || { t_fail "auth: setup"; return; }
    mta_send alice@a.example bob@a.example -- "${SC_UNTRUSTED[@]}" \
        --auth PLAIN --auth-user alice@a.example --auth-password s3cret \
        --header "Subject: sc-auth" || { t_fail "auth: send"; return; }
    f=$(sc_wait bob sc-auth) || { t_fail "auth: delivered"; return; }
    t_check "authenticated from an untrusted address: tagged" \
        [ "$(sc_count "$f" X-Mail-Id)" = 1 ]
    # bad input: wrong password -> AUTH refused, nothing sent
    if mta_send alice@a.example bob@a.example -- "${SC_UNTRUSTED[@]}" \
        --auth PLAIN --auth-user alice@a.example --auth-password wrong \
        --header "Subject: sc-auth-bad" >/dev/null 2>&1; then
        t_fail "auth: a wrong password was accepted"
    else
        t_ok "auth: a wrong password is refused"
    fi
}

# Local submission through the MTA's sendmail command (Postfix non_smtpd_milters).
sc_submit() {
    local f
    declare -F mta_submit >/dev/null || return 0
    printf 'From: alice@a.example\nTo: bob@a.example\nSubject: sc-submit\n\nlocal\n' |
        mta_submit alice@a.example bob@a.example || { t_fail "submit: sendmail"; return; }
    f=$(sc_wait bob sc-submit) || { t_fail "submit: delivered"; return; }
    t_check "local submission: tagged" [ "$(sc_count "$f" X-Mail-Id)" = 1 ]
}

# Mail always flows: milter killed -> delivered untouched; back -> tagged again.
sc_milter_down() {
    local f
    milter_kill
    mta_send alice@a.example bob@a.example -- --header "Subject: sc-down" ||
        { t_fail "milter down: send refused"; return; }
    f=$(sc_wait bob sc-down) || { t_fail "milter down: mail did not flow"; return; }
    t_ok "milter down: mail still delivered"
    t_check "milter down: untagged" [ "$(sc_count "$f" X-Mail-Id)" = 0 ]
    milter_start "$T/milter.conf" || { t_fail "milter restart"; return; }
    mta_send alice@a.example bob@a.example -- --header "Subject: sc-back" ||
        { t_fail "milter back: send"; return; }
    f=$(sc_wait bob sc-back) || { t_fail "milter back: delivered"; return; }
    t_check "milter back: tagged again" [ "$(sc_count "$f" X-Mail-Id)" = 1 ]
}

scenarios_run() {
    local port
    SC_STORE=$T/store
    MILTER_SYSTEM_EXTRA="peer_networks = 127.0.0.3/32" \
        milter_conf "$T/milter.conf" "unix:$T/milter.sock" "$SC_STORE"
    milter_start "$T/milter.conf" || { t_fail "milter start"; t_summary; return 1; }
    port=$(t_port)
    mta_start "$T/mta" "$port" "unix:$T/milter.sock" || { t_fail "MTA start"; t_summary; return 1; }
    sc_internal
    sc_external_sender
    sc_spoof
    sc_forged
    sc_mixed
    sc_peer
    sc_copied
    sc_auth
    sc_submit
    sc_milter_down
    mta_stop
    milter_stop || t_fail "milter exit status after SIGTERM"
    if [ "$T_FAIL" -ne 0 ]; then
        echo "--- milter log"; tail -n 50 "$T/milter.log"
        declare -F mta_log >/dev/null && { echo "--- MTA log"; tail -n 50 "$(mta_log)"; }
    fi
    t_summary
}
