#!/bin/bash
# e2e/sendmail: mail through a private Sendmail 8.17 (tests/lib/sendmail.sh).
#
# Part 1 (this file, no milter binary needed): the adapter itself.
#   - mail flows: one SMTP transaction to two local users gives two files,
#     each with Sendmail's Received line and the transaction's queue id;
#   - a second client address (127.0.0.2) is accepted like the first;
#   - the milter line from packaging/sendmail/mailstate.mc pointing at a
#     socket nobody listens on: mail still passes (no F= flag);
#   - mta_stop leaves no Sendmail process behind.
set -u

here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/e2e-sendmail.XXXXXX") || exit 1
chmod 0755 "$T"
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "ok   - $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL - $*"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

. "$here/../lib/sendmail.sh"
cleanup() { mta_stop; rm -rf "$T"; }
trap cleanup EXIT

# --- mail flows, no milter at all -------------------------------------------
mta_start "$T/plain" "$(port)" "" || { echo "Sendmail did not start"; exit 1; }
mta_send alice@a.example bob@a.example carol@a.example && ok "swaks: 250 for two recipients" ||
    bad "swaks failed"
mta_wait_delivered 2 && ok "two deliveries logged" || bad "deliveries missing"
b=$(mta_messages bob) c=$(mta_messages carol)
[ "$(echo "$b" | grep -c .)" = 1 ] && [ "$(echo "$c" | grep -c .)" = 1 ] &&
    ok "one file each for bob and carol" || bad "files: bob=[$b] carol=[$c]"
qb=$(mta_queue_id "$b") qc=$(mta_queue_id "$c")
[[ $qb =~ ^[0-9A-Za-z]{14}$ ]] && [ "$qb" = "$qc" ] &&
    ok "queue id $qb in both copies" || bad "queue ids [$qb] [$qc]"
grep -q '^Received: from .*127\.0\.0\.1' "$b" && ok "Received names client 127.0.0.1" ||
    bad "no Received from 127.0.0.1 in $b"
[ -z "$(mta_messages alice)" ] && [ -z "$(mta_messages dave)" ] &&
    ok "nothing for users not addressed" || bad "unexpected mail for alice/dave"

# Bad input: a header line that only a client could put there (forged
# Received above Sendmail's own) must not fool mta_queue_id.
mta_send alice@a.example dave@a.example -- --local-interface 127.0.0.2 \
    --add-header 'Received: from evil by mta.a.example with ESMTP id FORGEDFORGED01' &&
    ok "client 127.0.0.2 accepted" || bad "swaks from 127.0.0.2 failed"
mta_wait_delivered 3 || bad "third delivery missing"
d=$(mta_messages dave)
qd=$(mta_queue_id "$d")
[[ $qd =~ ^[0-9A-Za-z]{14}$ ]] && [ "$qd" != FORGEDFORGED01 ] && [ "$qd" != "$qb" ] &&
    ok "queue id $qd from Sendmail's own line, not the forged one" || bad "queue id [$qd]"
grep -q '127\.0\.0\.2' "$d" && ok "Received names client 127.0.0.2" || bad "no 127.0.0.2 in $d"

# Another local domain and an outside one: b.example is stored, c.example
# (not local) goes to the discarding "ext" mailer; both count as deliveries.
mta_send carol@a.example dave@b.example x@c.example && ok "b.example + c.example accepted" ||
    bad "swaks to b.example/c.example failed"
mta_wait_delivered 5 && ok "b.example and c.example deliveries logged" || bad "deliveries: $(cat "$MTA_DIR/delivered.log")"
[ "$(mta_messages dave | grep -c .)" = 2 ] && ok "dave@b.example stored with dave" || bad "dave has: $(mta_messages dave)"
grep -q '^external x@c.example' "$MTA_DIR/delivered.log" && ok "x@c.example went to the ext mailer" ||
    bad "delivered.log: $(cat "$MTA_DIR/delivered.log")"

ns=$MTA_NS
mta_stop
left=$(for p in /proc/[0-9]*; do [ "$(readlink "$p/ns/uts" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"; done)
[ -z "$left" ] && ok "mta_stop: no process left" || bad "left running: $left"

# --- milter configured but down: mail passes (no F= flag) ------------------
# Bad input: a socket path where nothing listens (and no file exists).
mta_start "$T/down" "$(port)" "$T/nobody-listens.sock" || { echo "Sendmail did not start"; exit 1; }
grep -q '^Xmailstate, S=unix:'"$T"'/nobody-listens.sock, T=' "$T/down/sendmail.cf" &&
    ok "cf has the milter line from packaging/sendmail/mailstate.mc" ||
    bad "milter line missing: $(grep '^X' "$T/down/sendmail.cf")"
mta_send alice@a.example bob@a.example && ok "swaks: accepted with the milter down" ||
    bad "rejected with the milter down"
mta_wait_delivered 1 && ok "delivered with the milter down" || bad "not delivered with the milter down"
mta_stop

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
