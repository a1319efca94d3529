#!/bin/bash
# Every route of the tracker's API and every refusal of issue 4 §6, against
# the real mailstate-tracker on a private loopback port, with curl.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-api

PORT=$(t_port)
TRACKER_CONF_TRACKER="max_body = 4k
max_header = 8k
max_url = 1k" tracker_conf "$T/ms.conf" "$PORT"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY

# Mails recorded before the daemon runs, as the milter would.
M1=$(seed -s alice@a.example -r bob@a.example -r dave@a.example -r carol@a.example \
          -r eve@c.example=mx2 -r fay@a.example -r gus@a.example) || t_fail "seed M1"
ID1=${M1%%.*}
# A mail whose sender lives on mx2 (relayed here; mx1 records its own recipient).
M2=$(seed -s frank@c.example -r bob@a.example -S mx1) || t_fail "seed M2"
# A valid id this server never recorded (made in another store).
MX=$("$SEED_BIN" -d "$T/other" -k "$T/system.key" -r bob@a.example) || t_fail "seed MX"
# Three more mails from alice for paging.
seed -s alice@a.example -r bob@a.example -m 3 > "$T/more" || t_fail "seed more"

# -n: the config is checked, nothing starts.
out=$("$TRACKER_BIN" -n -c "$T/ms.conf" 2>&1) && t_ok "-n accepts the test config" || t_fail "-n: $out"
sed 's/^listen = .*/listen = 127.0.0.1:http/' "$T/ms.conf" > "$T/bad.conf"
out=$("$TRACKER_BIN" -n -c "$T/bad.conf" 2>&1)
[ $? -ne 0 ] && grep -q "bad.conf" <<<"$out" && t_ok "-n refuses a bad listen address, naming the file" ||
    t_fail "-n on a bad listen: $out"
out=$("$TRACKER_BIN" -n -c "$T/missing.conf" 2>&1)
[ $? -ne 0 ] && t_ok "-n on a missing file given with -c fails" || t_fail "-n missing: $out"

tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
# A second daemon on the same address must not share the port (no SO_REUSEPORT).
timeout 20 "$TRACKER_BIN" -f -c "$T/ms.conf" > "$T/second.log" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "cannot listen" "$T/second.log" &&
    t_ok "a second tracker on the same port exits 1" || t_fail "second tracker: rc $rc $(cat "$T/second.log")"

# --- monitoring, no token -------------------------------------------------
call GET /healthz ""
expect "GET /healthz" 200 '.status == "ok" and .server == "mx1"'
call GET /metrics ""
if [ "$CODE" = 200 ] && grep -q '^mailstate_http_requests_total{route="healthz",code="200"} [1-9]' <<<"$BODY" &&
   grep -q '^# TYPE mailstate_http_request_duration_seconds histogram' <<<"$BODY"; then
    t_ok "GET /metrics: Prometheus text with requests by route and code"
else
    t_fail "GET /metrics: $CODE $BODY"
fi

# --- a read, and a repeat ---------------------------------------------------
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example)"
expect "first read of bob" 200 '.recorded == true and .mail_id == "'"$M1"'" and .event == "read"
    and .recipient.address == "bob@a.example" and .recipient.status == "read"
    and .recipient.read_count == 1 and .recipient.first_read == .recipient.last_read
    and .recipient.via == "api"'
FIRST=$(jq -r .recipient.first_read <<<"$BODY")
# Sender and recipient in another spelling: the same entry (addr normal form).
call POST /v1/reads "$N" "$(read_body "$M1" '<Alice@A.EXAMPLE>' 'Bob@A.Example' '{via: "imap"}')"
expect "repeat read updates count and last_read, keeps first_read" 200 \
    '.recipient.read_count == 2 and .recipient.first_read == "'"$FIRST"'" and .recipient.via == "imap"'

# --- GET one mail -------------------------------------------------------------
call GET "/v1/mails/$ID1" "$Q"
expect "GET /v1/mails/ID (bare id, no tag)" 200 '.mail_id == "'"${M1%%.*}"'" and .sender == "alice@a.example"
    and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))
    and .queue_id == "SEEDQ" and (.recipients | length) == 6
    and ([.recipients[] | select(.address == "bob@a.example")][0] | .status == "read" and .read_count == 2)
    and ([.recipients[] | select(.address == "dave@a.example")][0] | .status == "sent" and (has("first_read") | not))
    and ([.recipients[] | select(.address == "eve@c.example")][0] | .server == "mx2")'
call GET "/v1/mails/$M1" "$Q"
expect "GET /v1/mails/ID.TAG" 200 '.mail_id == "'"${M1%%.*}"'"'
call GET "/v1/mails/$(tr 'A-Z' 'a-z' <<<"$ID1")" "$Q"
expect "GET /v1/mails/id in lower case" 200 '.mail_id == "'"${M1%%.*}"'"'
call GET "/v1/mails/$ID1.AAAAAAAAAAAAAAAA" "$Q"
expect "GET with a wrong tag: bad_mail_id" 400 '.error == "bad_mail_id"'
call GET "/v1/mails/${MX%%.*}" "$Q"
expect "GET a mail this server never recorded: 404" 404 '.error == "mail_not_found"'
call GET "/v1/mails/not-an-id" "$Q"
expect "GET /v1/mails/not-an-id: 400" 400 '.error == "bad_mail_id" and (.detail | length) > 0'
call GET "/v1/mails/$(printf 'I%.0s' {1..26})" "$Q"
expect "GET an id with a Crockford alias (I): 400" 400 '.error == "bad_mail_id"'

# --- read options: replayed time, events -------------------------------------
PAST=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%S.250+00:00)
PAST_Z=$(date -u -d "${PAST%+00:00}Z" +%Y-%m-%dT%H:%M:%S.250Z)
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example "{via: \"imap\", time: \"$PAST\"}")"
expect "read with a replayed time keeps that time" 200 \
    '.recipient.first_read == "'"$PAST_Z"'" and .recipient.via == "imap"'
FUTURE=$(date -u -d '+10 minutes' +%Y-%m-%dT%H:%M:%SZ)
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example "{time: \"$FUTURE\"}")"
expect "time 10 minutes in the future: bad_time" 400 '.error == "bad_time"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example '{time: "yesterday"}')"
expect "time not RFC 3339: bad_time" 400 '.error == "bad_time"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example '{time: "2026-02-30T00:00:00Z"}')"
expect "time with a day that does not exist: bad_time" 400 '.error == "bad_time"'
# Attacks (issue 14 item 2), each refused with nothing changed: a read
# backdated to before the mail existed, and a read for a recipient that
# another server (mx2) hosts - only the recipient's own server may say so.
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example gus@a.example '{time: "2020-01-01T00:00:00Z"}')"
expect "backdated read (before the mail was sent): bad_time" 400 '.error == "bad_time"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example eve@c.example)"
expect "read for a recipient mx2 hosts: 422 not_local" 422 '.error == "not_local"'
call GET "/v1/mails/$ID1" "$Q"
expect "after both: gus and eve still sent" 200 \
    '([.recipients[] | select(.address == "gus@a.example" or .address == "eve@c.example") | .status] == ["sent", "sent"])'

call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example fay@a.example '{event: "deleted_unread", via: "imap"}')"
expect "deleted_unread on an unread entry" 200 '.recorded == true and .event == "deleted_unread"
    and .recipient.status == "deleted_unread"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example fay@a.example)"
expect "a later read wins over deleted_unread" 200 '.recipient.status == "read" and .recipient.read_count == 1'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example fay@a.example '{event: "deleted_unread"}')"
expect "deleted_unread never sets a read entry back" 200 '.recipient.status == "read"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example fay@a.example '{event: "unread"}')"
expect "unknown event: bad_field" 400 '.error == "bad_field"'

# --- opt-out, unknown mail or recipient, forwarding ------------------------------
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example carol@a.example)"
expect "opt-out recipient: acknowledged, not recorded" 200 '.recorded == false and .reason == "opt_out"'
call GET "/v1/mails/$ID1" "$Q"
expect "opt-out recipient stays sent" 200 \
    '[.recipients[] | select(.address == "carol@a.example")][0].status == "sent"'
call POST /v1/reads "$N" "$(read_body "$MX" alice@a.example bob@a.example)"
expect "valid id of a mail not recorded here: 404" 404 '.error == "mail_not_found"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example zed@a.example)"
expect "recipient not recorded for this mail: 404" 404 '.error == "recipient_not_found"'
call POST /v1/reads "$N" "$(read_body "$M2" frank@c.example bob@a.example)"
expect "read of a mail whose sender's home is mx2" 200 '.recorded == true and .recipient.status == "read"'

# --- bad input -------------------------------------------------------------------
call POST /v1/reads "$N" "$(read_body "$M1" mallory@a.example bob@a.example)"
expect "MAC made for another sender: 403 bad_mac" 403 '.error == "bad_mac"'
TAMPERED="${M1%?}$( [ "${M1: -1}" = A ] && echo B || echo A)"
call POST /v1/reads "$N" "$(read_body "$TAMPERED" alice@a.example bob@a.example)"
expect "tampered tag: 403 bad_mac" 403 '.error == "bad_mac"'
grep -qi '^WWW-Authenticate' <<<"$HDRS" && t_fail "403 bad_mac carries a challenge" ||
    t_ok "403 bad_mac carries no WWW-Authenticate"
call POST /v1/reads "$N" "$(read_body "nonsense" alice@a.example bob@a.example)"
expect "malformed mail id: 400 bad_mail_id" 400 '.error == "bad_mail_id"'
call POST /v1/reads "$N" "$(read_body "$ID1" alice@a.example bob@a.example)"
expect "mail id without its tag: 400 bad_mail_id" 400 '.error == "bad_mail_id"'
call POST /v1/reads "$N" '{"mail_id": "'"$M1"'", "sender": "alice@a.example", "recipient": "bob@a.ex'
expect "truncated JSON: 400 bad_json" 400 '.error == "bad_json"'
call POST /v1/reads "$N" 'mail_id=x&sender=y'
expect "form data instead of JSON: 400 bad_json" 400 '.error == "bad_json"'
call POST /v1/reads "$N" '["'"$M1"'", "alice@a.example", "bob@a.example"]'
expect "JSON array instead of an object: 400 bad_json" 400 '.error == "bad_json"'
call POST /v1/reads "$N" ''
expect "empty body: 400 bad_json" 400 '.error == "bad_json"'
call POST /v1/reads "$N" '{"mail_id": "'"$M1"'", "mail_id": "'"$M1"'", "sender": "alice@a.example", "recipient": "bob@a.example"}'
expect "duplicate key: 400 bad_json" 400 '.error == "bad_json"'
call POST /v1/reads "$N" "$(jq -cn --arg s alice@a.example --arg r bob@a.example '{mail_id: 42, sender: $s, recipient: $r}')"
expect "mail_id of the wrong type: 400 bad_field" 400 '.error == "bad_field" and (.detail | test("mail_id"))'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example '{via: ["imap"]}')"
expect "via of the wrong type: 400 bad_field" 400 '.error == "bad_field"'
call POST /v1/reads "$N" "$(jq -cn --arg m "$M1" '{mail_id: $m, sender: "alice@a.example"}')"
expect "missing recipient: 400 bad_field" 400 '.error == "bad_field" and (.detail | test("recipient"))'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example '{subject: "hi"}')"
expect "unknown field: 400 bad_field" 400 '.error == "bad_field" and (.detail | test("subject"))'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example 'not an address')"
expect "recipient that is not an address: 400 bad_address" 400 '.error == "bad_address"'
call POST /v1/reads "$N" "$(read_body "$M1" '<>' bob@a.example)"
expect "null sender: 400 bad_address" 400 '.error == "bad_address"'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example '{via: "IMAP!"}')"
expect "via with bad characters: 400 bad_field" 400 '.error == "bad_field"'

# --- tokens and scopes -------------------------------------------------------------
BODY1=$(read_body "$M1" alice@a.example bob@a.example)
call POST /v1/reads "" "$BODY1"
expect "no token: 401" 401 '.error == "unauthorized"'
grep -qi '^WWW-Authenticate: Bearer' <<<"$HDRS" && t_ok "401 carries WWW-Authenticate: Bearer" ||
    t_fail "401 without WWW-Authenticate: $HDRS"
call POST /v1/reads "wrong-token-0123456789abcdef" "$BODY1"
expect "unknown token: 401" 401 '.error == "unauthorized"'
call POST /v1/reads "${N%?}" "$BODY1"
expect "token missing its last character: 401" 401 '.error == "unauthorized"'
out=$(tracker_curl -H "Authorization: Basic $(printf 'a:%s' "$N" | base64)" \
      -H 'Content-Type: application/json' --data-binary "$BODY1" "$TRACKER_URL/v1/reads")
[ "${out##*$'\n'}" = 401 ] && t_ok "Basic auth instead of Bearer: 401" || t_fail "Basic auth: $out"
call POST /v1/reads "$Q" "$BODY1"
expect "query token on POST /v1/reads: 403" 403 '.error == "forbidden"'
# RFC 6750: a missing scope carries a Bearer challenge; 403 bad_mac does not
# (the Dovecot plugin keeps the first for later and drops the second).
grep -qi '^WWW-Authenticate: Bearer.*insufficient_scope' <<<"$HDRS" &&
    t_ok "403 forbidden carries WWW-Authenticate: Bearer error=insufficient_scope" ||
    t_fail "403 forbidden without the challenge: $HDRS"
call GET "/v1/mails/$ID1" "$N"
expect "notify token on GET /v1/mails/ID: 403" 403 '.error == "forbidden"'
call GET "/v1/mails" ""
expect "GET /v1/mails without a token: 401" 401 '.error == "unauthorized"'
call GET "/v1/mails/$ID1" "$TRACKER_TOKEN_ALL"
expect "token with every scope may query" 200
call POST /v1/reads "$TRACKER_TOKEN_ALL" "$BODY1"
expect "token with every scope may notify" 200

# --- methods and paths ---------------------------------------------------------------
call GET /v1/reads "$N"
expect "GET /v1/reads: 405" 405 '.error == "method_not_allowed"'
grep -qi '^Allow: POST$' <<<"$HDRS" && t_ok "405 names the allowed method" || t_fail "Allow header: $HDRS"
call DELETE "/v1/mails/$ID1" "$Q"
expect "DELETE /v1/mails/ID: 405" 405
call POST /healthz "" '{}'
expect "POST /healthz: 405" 405
call GET /v2/mails "$Q"
expect "unknown path: 404" 404 '.error == "not_found"'
call GET "/v1/mails/$ID1/recipients" "$Q"
expect "path below a mail: 404" 404 '.error == "not_found"'
call GET "/v1/reads/" "$N"
expect "trailing slash: 404" 404

# --- listing --------------------------------------------------------------------------
call GET "/v1/mails?sender=alice@a.example&limit=2" "$Q"
expect "list page 1 (limit 2)" 200 '(.mails | length) == 2 and (.next_cursor | type) == "string"'
P1=$BODY
CUR=$(jq -r .next_cursor <<<"$P1")
call GET "/v1/mails?sender=alice@a.example&limit=2&cursor=$CUR" "$Q"
expect "list page 2 follows the cursor" 200 '(.mails | length) == 2 and .next_cursor == null'
ALL=$(jq -s '[.[].mails[].mail_id]' <(echo "$P1") <(echo "$BODY"))
jq -e 'length == 4 and (unique | length) == 4' <<<"$ALL" >/dev/null &&
    t_ok "pages hold the 4 mails of alice, no repeats" || t_fail "pages: $ALL"
jq -e '. == (sort | reverse)' <<<"$ALL" >/dev/null && t_ok "newest first" || t_fail "order: $ALL"
# Issue 14 item 3: a query answer never hands out a tag (ID.TAG is what a
# read notification must show).
jq -e 'all(.[]; length == 26 and (contains(".") | not))' <<<"$ALL" >/dev/null &&
    t_ok "list answers carry bare ids" || t_fail "tags in a list answer: $ALL"
call GET "/v1/mails?sender=%3CAlice%40A.EXAMPLE%3E" "$Q"
expect "sender filter in another spelling, URL-encoded" 200 '(.mails | length) == 4'
call GET "/v1/mails?recipient=dave@a.example" "$Q"
expect "recipient filter" 200 '(.mails | length) == 1 and .mails[0].mail_id == "'"${M1%%.*}"'"'
call GET "/v1/mails?recipient=bob@a.example&status=read" "$Q"
expect "recipient + status filter" 200 '(.mails | length) == 2'
call GET "/v1/mails?status=deleted_unread" "$Q"
expect "status filter" 200 '(.mails | length) == 0'
call GET "/v1/mails?since=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$Q"
expect "since in the future: empty" 200 '(.mails | length) == 0 and .next_cursor == null'
call GET "/v1/mails?until=2000-01-01T00:00:00Z" "$Q"
expect "until in the past: empty" 200 '(.mails | length) == 0'
call GET "/v1/mails" "$Q"
expect "no filter lists every mail" 200 '(.mails | length) == 5'
call GET "/v1/mails?color=red" "$Q"
expect "unknown parameter: 400" 400 '.error == "bad_query"'
call GET "/v1/mails?limit=1&limit=2" "$Q"
expect "repeated parameter: 400" 400 '.error == "bad_query"'
for bad in limit=0 limit=1001 limit=abc limit=-1 status=opened cursor=xyz since=today \
           sender=not-an-address; do
    call GET "/v1/mails?$bad" "$Q"
    expect "bad query $bad: 400" 400 '.error == "bad_query"'
done

# --- limits ------------------------------------------------------------------------------
BIG=$(head -c 5000 /dev/zero | tr '\0' x)
call POST /v1/reads "$N" "{\"mail_id\": \"$BIG\"}"
expect "body over max_body (Content-Length): 413" 413 '.error == "body_too_large"'
out=$(printf '{"mail_id": "%s"}' "$BIG" | tracker_curl -H "Authorization: Bearer $N" \
      -H 'Transfer-Encoding: chunked' --data-binary @- "$TRACKER_URL/v1/reads" 2>&1)
case ${out##*$'\n'} in
    413|000) t_ok "chunked body over max_body: 413 or cut off" ;;
    *) t_fail "chunked oversize body: $out" ;;
esac
out=$(tracker_curl -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' y)" "$TRACKER_URL/healthz" 2>&1)
case ${out##*$'\n'} in
    431|413|400|000) t_ok "headers over max_header: refused (${out##*$'\n'})" ;;
    *) t_fail "oversize header: $out" ;;
esac
call GET "/v1/mails?sender=$(head -c 1100 /dev/zero | tr '\0' a)@a.example" "$Q"
expect "request target over max_url: 414" 414 '.error == "uri_too_long"'
call GET /healthz ""
expect "still serving after the refusals" 200

# --- keep-alive: two requests, one connection ------------------------------------------------
out=$(curl -sv -o /dev/null -o /dev/null "$TRACKER_URL/healthz" "$TRACKER_URL/healthz" 2>&1)
grep -q 'Re-using existing connection' <<<"$out" && ! grep -qi '^< Connection: close' <<<"$out" &&
    t_ok "keep-alive: the second request reuses the connection" || t_fail "keep-alive: $out"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example gus@a.example)"
grep -qi '^Connection: close' <<<"$HDRS" && t_fail "a write answer closes the connection" ||
    t_ok "a write answer keeps the connection"

# --- metrics after the run ---------------------------------------------------------------------
call GET /metrics ""
grep -q '^mailstate_http_requests_total{route="reads",code="400"} [1-9]' <<<"$BODY" &&
grep -q '^mailstate_http_requests_total{route="other",code="404"} [1-9]' <<<"$BODY" &&
grep -q '^mailstate_reads_recorded_total{event="read"} [1-9]' <<<"$BODY" &&
grep -q '^mailstate_reads_ignored_total{reason="opt_out"} 1$' <<<"$BODY" &&
grep -q '^mailstate_store_errors_total 0$' <<<"$BODY" &&
    t_ok "metrics count routes, codes, reads, opt-outs, store errors" || t_fail "metrics: $BODY"

# --- clean stop; the forward for mx2 is in the outbox ----------------------------------------
tracker_stop && t_ok "SIGTERM: exit status 0" || t_fail "SIGTERM exit status"
if mdb_dump -p -s outbox "$T/store" 2>/dev/null | grep -q 'mx2'; then
    t_ok "read of a mx2 sender's mail queued in the outbox for mx2"
else
    t_fail "no outbox item for mx2: $(mdb_dump -p -s outbox "$T/store" 2>&1 | head -5)"
fi
t_summary
