#!/bin/bash
# End-to-end (issue 4 §8): a mail through a private Postfix with the real
# milter; a read notification built from the delivered file's X-Mail-Id and
# X-Sender goes to the real tracker; GET shows that recipient read and the
# other one sent.  Milter and tracker share one mail log.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/postfix.sh"
. "$here/../lib/tracker.sh"
. "$here/lib.sh"
t_init tracker-e2e

HTTP_PORT=$(t_port)
SMTP_PORT=$(t_port)
milter_conf "$T/ms.conf" "unix:$T/milter.sock" "$T/store" "
[tracker]
listen = 127.0.0.1:$HTTP_PORT

[token notify]
secret = $TRACKER_TOKEN_NOTIFY
scopes = notify

[token query]
secret = $TRACKER_TOKEN_QUERY
scopes = query"
milter_start "$T/ms.conf" || { t_fail "milter starts"; t_summary; exit 1; }
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
mta_start "$T/pf" "$SMTP_PORT" "unix:$T/milter.sock" || { t_fail "postfix starts"; t_summary; exit 1; }

mta_send alice@a.example bob@a.example dave@a.example -- --header "Subject: e2e" ||
    t_fail "swaks could not send"
mta_wait_delivered 2 ||
    t_fail "2 deliveries not logged"

BOB_MSG=$(mta_messages bob | head -n1)
DAVE_MSG=$(mta_messages dave | head -n1)
[ -n "$BOB_MSG" ] && [ -n "$DAVE_MSG" ] && t_ok "delivered to bob and dave" ||
    { t_fail "no delivered files"; t_summary; exit 1; }
MAIL_ID=$(t_header "$BOB_MSG" X-Mail-Id)
SENDER=$(t_header "$BOB_MSG" X-Sender)
[ -n "$MAIL_ID" ] && [ "$SENDER" = alice@a.example ] &&
    t_ok "headers X-Mail-Id $MAIL_ID and X-Sender $SENDER" || t_fail "headers: '$MAIL_ID' '$SENDER'"
[ "$(t_header "$DAVE_MSG" X-Mail-Id)" = "$MAIL_ID" ] && t_ok "one id for both recipients" ||
    t_fail "dave's copy has another id"

# Before any read: both sent.
call GET "/v1/mails/$MAIL_ID" "$TRACKER_TOKEN_QUERY"
expect "the milter's entries are visible to the tracker" 200 '.mail_id == "'"${MAIL_ID%%.*}"'"
    and .sender == "alice@a.example" and (.queue_id | length) > 0
    and ([.recipients[].status] | all(. == "sent")) and (.recipients | length) == 2'

# bob reads it (as webmail would report it, from the file's header values).
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$MAIL_ID" "$SENDER" bob@a.example)"
expect "read notification from the delivered headers" 200 '.recorded == true and .recipient.status == "read"'
call GET "/v1/mails/${MAIL_ID%%.*}" "$TRACKER_TOKEN_QUERY"
expect "GET: bob read, dave sent" 200 '
    ([.recipients[] | select(.address == "bob@a.example")][0] | .status == "read" and .read_count == 1)
    and ([.recipients[] | select(.address == "dave@a.example")][0].status == "sent")'
QID=$(mta_queue_id "$BOB_MSG")
[ -n "$QID" ] && [ "$(jq -r .queue_id <<<"$BODY")" = "$QID" ] && t_ok "queue id $QID recorded" ||
    t_fail "queue id: Postfix $QID, log $(jq -r .queue_id <<<"$BODY")"
call GET "/v1/mails?recipient=dave@a.example&status=sent" "$TRACKER_TOKEN_QUERY"
expect "list: dave's unread mail" 200 '(.mails | length) == 1 and .mails[0].mail_id == "'"${MAIL_ID%%.*}"'"'

mta_stop
tracker_stop && t_ok "tracker stops cleanly" || t_fail "tracker stop status"
milter_stop && t_ok "milter stops cleanly" || t_fail "milter stop status"
t_summary
