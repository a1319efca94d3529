#!/bin/bash
# The sender-scoped API (issue 12) against real Postfix, milter, Dovecot
# (LMTP, IMAP, auth socket) and the tracker: see setup.sh for the mails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v dovecot >/dev/null && command -v swaks >/dev/null ||
    { echo "skipped: needs dovecot and swaks"; exit 77; }
. "$here/setup.sh"
t_init me-api

me_world || { t_fail "setup: mails delivered, read by bob"; t_summary; exit 1; }
U=$TRACKER_URL
A=(-u "alice@a.example:$PW")
B=(-u "bob@a.example:$PW")
D=(-u "dave@a.example:$PW")
js() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- identity
t_check "GET /v1/me as alice" \
    [ "$(curl -sS "${A[@]}" "$U/v1/me" | js 'd["user"], d["address"], d["admin"]')" = \
      "alice@a.example alice@a.example False" ]
t_check "dave is an admin" \
    [ "$(curl -sS "${D[@]}" "$U/v1/me" | js 'd["admin"]')" = True ]

# --- only my mails
curl -sS "${A[@]}" "$U/v1/me/sent" > "$T/sent.json"
t_check "alice's sent: exactly her one mail" \
    [ "$(js '[m["mail_id"] for m in d["mails"]]' < "$T/sent.json")" = "['$M_ALICE']" ]
t_check "bare ids (no .TAG) and the Message-ID" \
    [ "$(js 'd["mails"][0]["mail_id"].count("."), d["mails"][0]["message_id"].strip()' < "$T/sent.json")" = "0 <$MSGID_A>" ]
# dave's copy was delivered over LMTP: the plugin reports "received" at
# delivery, asynchronously (issue 11), so dave is "sent" until that report
# has arrived and "received" after - never read.
t_check "bob read, dave not yet: summary 2 total, 1 read, 1 delivered or sent" \
    [ "$(js 'sorted((r["address"], "sent" if r["status"] == "received" else r["status"]) for r in d["mails"][0]["recipients"]), {k: v for k, v in d["mails"][0]["summary"].items() if k not in ("sent", "received")}, d["mails"][0]["summary"]["sent"] + d["mails"][0]["summary"]["received"]' < "$T/sent.json")" = \
      "[('bob@a.example', 'read'), ('dave@a.example', 'sent')] {'total': 2, 'read': 1, 'deleted_unread': 0} 1" ]
t_check "bob's read says when and via imap" \
    [ "$(js '[(r["via"], len(r["first_read"])) for r in d["mails"][0]["recipients"] if r["address"] == "bob@a.example"]' < "$T/sent.json")" = "[('imap', 24)]" ]
t_check "bob's sent: only his mail" \
    [ "$(curl -sS "${B[@]}" "$U/v1/me/sent" | js '[m["mail_id"] for m in d["mails"]]')" = "['$M_BOB']" ]
t_check "recipient filter: alice's mails to dave = 1, to carol = 0" \
    [ "$(curl -sS "${A[@]}" "$U/v1/me/sent?recipient=dave@a.example" | js 'len(d["mails"])')$(curl -sS "${A[@]}" "$U/v1/me/sent?recipient=carol@a.example" | js 'len(d["mails"])')" = 10 ]

# --- another user's mail id: 404, the same answer as a missing mail
t_check "alice asks for bob's mail: 404 mail_not_found" \
    [ "$(curl -sS -o "$T/o" -w '%{http_code}' "${A[@]}" "$U/v1/me/sent/$M_BOB")$(js 'd["error"]' < "$T/o")" = 404mail_not_found ]
t_check "bob gets his own: 200" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "${B[@]}" "$U/v1/me/sent/$M_BOB")" = 200 ]
# bad input: a path parameter that is not an id
t_check "a malformed id: 400 bad_mail_id" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "${A[@]}" "$U/v1/me/sent/..%2f..%2fetc")" = 404 ] ||
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "${A[@]}" "$U/v1/me/sent/xyz")" = 400 ]

# --- Message-ID lookup
q() { curl -sS -G "${A[@]}" "$U/v1/me/sent" "$@" | js '[m["mail_id"] for m in d["mails"]]'; }
t_check "message_id with brackets" [ "$(q --data-urlencode "message_id=<$MSGID_A>")" = "['$M_ALICE']" ]
t_check "message_id without brackets, padded" [ "$(q --data-urlencode "message_id=  $MSGID_A ")" = "['$M_ALICE']" ]
t_check "repeated message_id: alice's found, bob's (not hers) and an unknown not" \
    [ "$(q --data-urlencode "message_id=<$MSGID_B>" --data-urlencode "message_id=<$MSGID_A>" \
           --data-urlencode "message_id=<nobody@x>")" = "['$M_ALICE']" ]
t_check "message_id of another user: empty" [ "$(q --data-urlencode "message_id=<$MSGID_B>")" = "[]" ]
# bad input: 51 values (more than the batch limit) -> 400, nothing returned
args=(); for i in $(seq 51); do args+=(--data-urlencode "message_id=<x$i@y>"); done
t_check "51 message_id values: 400 bad_query" \
    [ "$(curl -sS -G -o /dev/null -w '%{http_code}' "${A[@]}" "$U/v1/me/sent" "${args[@]}")" = 400 ]

# --- the recipient's own view
curl -sS "${B[@]}" "$U/v1/me/reads" > "$T/reads.json"
t_check "bob's reads: alice's mail, read via imap, count 1" \
    [ "$(js '[(r["mail_id"], r["sender"], r["status"], r["via"], r["read_count"]) for r in d["reads"]]' < "$T/reads.json")" = \
      "[('$M_ALICE', 'alice@a.example', 'read', 'imap', 1)]" ]
t_check "bob's view names no other recipient" sh -c "! grep -q dave '$T/reads.json'"
t_check "dave's reads: alice's mail, not yet read" \
    [ "$(curl -sS "${D[@]}" "$U/v1/me/reads" | js '[(r["mail_id"], "sent" if r["status"] == "received" else r["status"]) for r in d["reads"]]')" = "[('$M_ALICE', 'sent')]" ]

# --- admins search the whole log; others may not
t_check "dave (admin) searches every mail: 2" \
    [ "$(curl -sS "${D[@]}" "$U/v1/me/all" | js 'len(d["mails"])')" = 2 ]
t_check "alice (no admin): 403" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "${A[@]}" "$U/v1/me/all")" = 403 ]

# --- wrong passwords: 401, and repeated failures slowed (from 127.0.0.2)
W=(--interface 127.0.0.2 -u "alice@a.example:wrong-Pw-7781")
codes=
for i in 1 2 3 4 5; do
    codes="$codes $(curl -sS -D "$T/h$i" -o "$T/b$i" -w '%{http_code}' "${W[@]}" "$U/v1/me")"
done
t_check "wrong password: 401 three times, then 429 (not even asked)" [ "$codes" = " 401 401 401 429 429" ]
t_check "401 carries WWW-Authenticate: Basic realm=\"mailstate\"" \
    grep -qi '^WWW-Authenticate: Basic realm="mailstate"' "$T/h1"
t_check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "$T/h4"
t_check "/metrics counts 3 failures and 2 slowed" sh -c \
    "curl -sS '$U/metrics' | grep -q 'mailstate_auth_checks_total{result=\"fail\"} 3' &&
     curl -sS '$U/metrics' | grep -q 'mailstate_auth_checks_total{result=\"slowed\"} 2'"
t_check "other addresses are not slowed: alice from 127.0.0.1 still 200" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' "${A[@]}" "$U/v1/me")" = 200 ]
t_check "alice's known password from the slowed address still works (cache)" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "${A[@]}" "$U/v1/me")" = 200 ]
# bad input: no credentials; garbage Basic; a Bearer token on a user route
t_check "no credentials: 401" [ "$(curl -sS -o /dev/null -w '%{http_code}' "$U/v1/me")" = 401 ]
t_check "garbage Basic: 401" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Basic !!!' "$U/v1/me")" = 401 ]

# --- the session cookie
curl -sS -D "$T/sh" -o "$T/sb" -H 'Content-Type: application/json' \
    -d "{\"user\": \"alice@a.example\", \"password\": \"$PW\"}" "$U/v1/session"
cookie=$(grep -i '^Set-Cookie:' "$T/sh" | sed 's/^[^:]*: *//; s/;.*//' | tr -d '\r')
t_check "POST /v1/session sets an HttpOnly SameSite=Strict cookie" \
    grep -qi '^Set-Cookie: mailstate_session=[A-Za-z0-9_-]\{43\}; Path=/; HttpOnly; SameSite=Strict' "$T/sh"
t_check "no Secure flag without an https public_url" sh -c "! grep -qi 'Secure' '$T/sh'"
t_check "the cookie is a login: GET /v1/me/sent as alice" \
    [ "$(curl -sS -H "Cookie: $cookie" "$U/v1/me/sent" | js 'len(d["mails"])')" = 1 ]
t_check "a form body logs in too" [ "$(curl -sS -o /dev/null -w '%{http_code}' \
    --data-urlencode user=bob@a.example --data-urlencode "password=$PW" "$U/v1/session")" = 200 ]
t_check "DELETE /v1/session clears the cookie" sh -c \
    "curl -sS -D - -o /dev/null -X DELETE -H 'Cookie: $cookie' '$U/v1/session' | grep -qi 'Set-Cookie: mailstate_session=;.*Max-Age=0'"
t_check "after logout the cookie is refused: 401" \
    [ "$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$U/v1/me")" = 401 ]
# bad input: a forged cookie
t_check "a made-up cookie: 401" [ "$(curl -sS -o /dev/null -w '%{http_code}' \
    -H "Cookie: mailstate_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$U/v1/me")" = 401 ]
# attack: login CSRF - another site posts the form (Origin / Sec-Fetch-Site)
for h in 'Origin: http://evil.example' 'Sec-Fetch-Site: cross-site'; do
    code=$(curl -sS -D "$T/xh" -o "$T/xb" -w '%{http_code}' -H "$h" \
        --data-urlencode user=alice@a.example --data-urlencode "password=$PW" "$U/v1/session")
    t_check "cross-site POST /v1/session ($h): 403 cross_site, no cookie" \
        sh -c "[ $code = 403 ] && grep -q cross_site '$T/xb' && ! grep -qi Set-Cookie '$T/xh'"
done
t_check "same-origin POST (Origin = the tracker) is fine" [ "$(curl -sS -o /dev/null -w '%{http_code}' \
    -H "Origin: $U" -H 'Sec-Fetch-Site: same-origin' --data-urlencode user=alice@a.example \
    --data-urlencode "password=$PW" "$U/v1/session")" = 200 ]

# --- the page's files
curl -sS -D "$T/ph" -o "$T/pb" "$U/"
t_check "GET / is the page: text/html with CSP default-src 'self'" sh -c \
    "grep -qi '^Content-Type: text/html' '$T/ph' && grep -qi \"^Content-Security-Policy: default-src 'self'\" '$T/ph' && grep -q '<form' '$T/pb'"
t_check "app.js as text/javascript, app.css as text/css" sh -c \
    "curl -sS -D - -o /dev/null '$U/www/app.js' | grep -qi '^Content-Type: text/javascript' &&
     curl -sS -D - -o /dev/null '$U/www/app.css' | grep -qi '^Content-Type: text/css'"
t_check "no inline script in the page" sh -c "! grep -qi '<script>' '$T/pb' && ! grep -qi ' on[a-z]*=' '$T/pb'"
# attack: path traversal out of www_dir, and hidden or unknown files
for p in '/www/../tracker.conf' '/www/..%2f..%2f..%2fetc%2fpasswd' '/www/%2e%2e%2fsystem.key' \
         '/www/.htaccess' '/www/index' '/www/CMakeLists.txt' '/www//etc/passwd'; do
    code=$(curl -sS --path-as-is -o "$T/tb" -w '%{http_code}' "$U$p")
    t_check "traversal $p: 404, nothing leaked" sh -c "[ $code = 404 ] && ! grep -q 'root:' '$T/tb' && ! grep -q 'dovecot_socket' '$T/tb'"
done

# --- passwords never logged
t_check "the tracker log holds no password" sh -c \
    "! grep -q -e 'wrong-Pw-7781' -e ':$PW' -e '$(printf 'alice@a.example:%s' "$PW" | base64)' '$T/tracker.log'"

# --- Dovecot down: 503 for an unknown password, cached ones still pass
dovecot_stop
t_check "Dovecot down: carol's first login is 503 auth_unavailable" sh -c \
    "[ \"\$(curl -sS -o '$T/u' -w '%{http_code}' -u 'carol@a.example:$PW' '$U/v1/me')\" = 503 ] && grep -q auth_unavailable '$T/u'"
t_summary
