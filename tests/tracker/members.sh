#!/bin/bash
# Lists, aliases and +addresses over HTTP (issue 11): received and read
# events naming a final recipient and the address the envelope named, the
# member entries they create, what GET shows, and the refusals (each logged
# at info and counted) - against the real tracker on loopback.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-members

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY
# alice wrote to the list team@, the alias info@, bob+news@ and mx2's eve.
M=$(seed -s alice@a.example -r team@a.example -r info@a.example -r bob+news@a.example \
         -r eve@c.example=mx2) || t_fail "seed"
ID=${M%%.*}
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

ev() {   # RCPT ORIGINAL|"" EVENT
    local extra="{event: \"$3\", via: \"lmtp\"}"
    [ -n "$2" ] && extra="{event: \"$3\", via: \"lmtp\", original_recipient: \"$2\"}"
    call POST /v1/reads "$N" "$(read_body "$M" alice@a.example "$1" "$extra")"
}

ev dave@a.example team@a.example received
expect "received for list member dave: recorded" 200 \
    '.event == "received" and .recipient.address == "dave@a.example"
     and .recipient.status == "received" and .recipient.original_recipient == "team@a.example"'
ev carl@a.example team@a.example received
expect "received for list member carl" 200 '.recipient.status == "received"'
ev carl@a.example "" read
expect "carl reads it (IMAP: no original needed any more)" 200 \
    '.recipient.status == "read" and .recipient.read_count == 1'
ev fay@a.example info@a.example read
expect "read through the alias info@ -> fay@" 200 \
    '.recipient.status == "read" and .recipient.original_recipient == "info@a.example"'
# Postfix local delivery, no LMTP: the read names bob@, the entry is bob+news@
ev bob@a.example "" read
expect "read from bob@ finds bob+news@ (recipient_delimiter)" 200 \
    '.recipient.address == "bob+news@a.example" and .recipient.status == "read"'

call GET "/v1/mails/$ID" "$Q"
expect "every person its own entry, the list expanded with a summary" 200 '
    ([.recipients[] | select(.address == "carl@a.example")][0]
        | .status == "read" and .original_recipient == "team@a.example")
    and ([.recipients[] | select(.address == "dave@a.example")][0] | .status == "received")
    and ([.recipients[] | select(.address == "team@a.example")][0]
        | .expanded == true and .members.total == 2 and .members.read == 1
          and .members.received == 1 and .members.sent == 0)
    and ([.recipients[] | select(.address == "info@a.example")][0]
        | .expanded == true and .members.total == 1 and .members.read == 1)
    and ([.recipients[] | select(.address == "bob@a.example")] | length) == 0
    and (.recipients | length) == 7'
call GET "/v1/mails?recipient=dave@a.example" "$Q"
expect "list by recipient finds mail dave got through the list" 200 \
    '(.mails | length) == 1 and .mails[0].mail_id == "'"$ID"'"'

# --- bad inputs: refused, logged at info, counted, nothing changed ---
ev mallory@a.example board@a.example received
expect "attack: an original recipient the mail never had: 404" 404 '.error == "recipient_not_found"'
ev mallory@a.example "" read
expect "an unknown recipient without original: 404" 404 '.error == "recipient_not_found"'
ev yan@a.example eve@c.example received
expect "attack: an original recipient hosted by mx2: 404" 404 '.error == "recipient_not_found"'
ev zed@c.example team@a.example received
expect "attack: a final recipient another server hosts: 422" 422 '.error == "not_local"'
FORGED="${ID}.AAAAAAAAAAAAAAAA"
call POST /v1/reads "$N" "$(read_body "$FORGED" alice@a.example dave@a.example '{event: "read"}')"
expect "attack: a forged id: 403 bad_mac" 403 '.error == "bad_mac"'
call GET "/v1/mails/$ID" "$Q"
expect "after the refusals: still 7 entries, dave still received" 200 \
    '(.recipients | length) == 7
     and ([.recipients[] | select(.address == "dave@a.example")][0] | .status == "received")'

LOG=$T/tracker.log
t_check "log: the member entry created" grep -q "mail $ID: dave@a.example is a member of team@a.example" "$LOG"
t_check "log: the unknown original, with its reason" \
    grep -q "mail $ID: received for mallory@a.example (original recipient board@a.example) not recorded" "$LOG"
t_check "log: the foreign final recipient" grep -q "mail $ID: received for zed@c.example .*not hosted by this server" "$LOG"
t_check "log: the forged id" grep -q "mail $ID: event for dave@a.example not recorded: the mail id's MAC does not match" "$LOG"
call GET /metrics ""
grep -q '^mailstate_events_unmatched_total{reason="unknown_recipient"} 3$' <<<"$BODY" &&
grep -q '^mailstate_events_unmatched_total{reason="not_local"} 1$' <<<"$BODY" &&
grep -q '^mailstate_events_unmatched_total{reason="bad_mac"} 1$' <<<"$BODY" &&
grep -q '^mailstate_member_entries_created_total 3$' <<<"$BODY" &&
grep -q '^mailstate_reads_recorded_total{event="received"} 2$' <<<"$BODY" &&
    t_ok "metrics: unmatched by reason, members created, received counted" ||
    t_fail "metrics: $(grep -E 'unmatched|member|recorded' <<<"$BODY")"
tracker_stop || t_fail "SIGTERM exit status"
t_summary
