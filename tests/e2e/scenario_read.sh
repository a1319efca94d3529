# scenario_read.sh - "read notification -> tracker shows read", MTA-neutral (bash).
#
# Source after tests/lib/common.sh, milter.sh, tracker.sh, one MTA adapter and
# scenarios.sh; call sc_read_run before scenarios_run (it starts and stops its
# own milter, tracker and MTA; scenarios_run prints the summary).
# Needs $MILTER_BIN and $TRACKER_BIN.
#
# The milter and the tracker share one LMDB store, as on a real server. A mail
# alice -> bob, carol goes through the MTA; the X-Mail-Id of bob's delivered
# copy is what a reader (webmail, the Dovecot plugin) would report.

# sc_json EXPR: evaluate a Python expression over the JSON on stdin (as j).
sc_json() {
    /usr/bin/python3 -c 'import json, sys
j = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if not isinstance(r, bool) else str(r).lower())' "$1"
}

# sc_http METHOD PATH TOKEN [BODY]: sets SC_CODE and SC_BODY.
sc_http() {
    local out args=(-X "$1" -H "Authorization: Bearer $3")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    out=$(tracker_curl "${args[@]}" "$TRACKER_URL$2")
    SC_CODE=${out##*$'\n'}
    SC_BODY=${out%$'\n'*}
}

sc_rcpt_field() {  # ADDRESS FIELD: from SC_BODY (a mail)
    sc_json "[r.get('$2') for r in j['recipients'] if r['address'] == '$1'][0]" <<<"$SC_BODY"
}

sc_read_run() {
    local f v id qid port
    [ -x "${TRACKER_BIN:-}" ] || { t_fail "read: TRACKER_BIN not set or not executable"; return 1; }
    milter_conf "$T/read-milter.conf" "unix:$T/read-milter.sock" "$T/store"
    milter_start "$T/read-milter.conf" || { t_fail "read: milter start"; return 1; }
    tracker_conf "$T/read-tracker.conf" "$(t_port)"
    tracker_start "$T/read-tracker.conf" || { t_fail "read: tracker start"; return 1; }
    port=$(t_port)
    mta_start "$T/read-mta" "$port" "unix:$T/read-milter.sock" || { t_fail "read: MTA start"; return 1; }

    mta_send alice@a.example bob@a.example dave@a.example -- --header "Subject: sc-read" ||
        { t_fail "read: send"; return 1; }
    f=$(sc_wait bob sc-read) || { t_fail "read: delivered"; return 1; }
    v=$(t_header "$f" X-Mail-Id)
    id=${v%%.*}
    qid=$(mta_queue_id "$f")
    t_check "read: delivered copy tagged" [ -n "$v" ]

    sc_http GET "/v1/mails/$id" "$TRACKER_TOKEN_QUERY"
    t_check "read: tracker knows the mail, with the MTA's queue id ($qid)" \
        [ "$SC_CODE" = 200 -a "$(sc_json "j.get('queue_id')" <<<"$SC_BODY")" = "$qid" ]
    t_check "read: bob is sent before the read" [ "$(sc_rcpt_field bob@a.example status)" = sent ]

    # Bad input: a read for someone who was not a recipient of this mail.
    sc_http POST /v1/reads "$TRACKER_TOKEN_NOTIFY" \
        "{\"mail_id\": \"$v\", \"sender\": \"alice@a.example\", \"recipient\": \"zed@a.example\"}"
    t_check "read: a non-recipient's read is refused ($SC_CODE)" [ "${SC_CODE:0:1}" = 4 ]

    sc_http POST /v1/reads "$TRACKER_TOKEN_NOTIFY" \
        "{\"mail_id\": \"$v\", \"sender\": \"alice@a.example\", \"recipient\": \"bob@a.example\"}"
    t_check "read: the notification for bob is accepted ($SC_CODE)" [ "$SC_CODE" = 200 ]

    sc_http GET "/v1/mails/$id" "$TRACKER_TOKEN_QUERY"
    t_check "read: tracker shows bob as read" [ "$(sc_rcpt_field bob@a.example status)" = read ]
    t_check "read: dave, who did not read, is still sent" \
        [ "$(sc_rcpt_field dave@a.example status)" = sent ]

    mta_stop
    tracker_stop || t_fail "read: tracker exit status after SIGTERM"
    milter_stop || t_fail "read: milter exit status after SIGTERM"
}
