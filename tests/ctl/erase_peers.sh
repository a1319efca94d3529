#!/bin/bash
# erase_peers.sh - `mailstatectl erase` reaches the peers (issue 16), with
# two real trackers: mx1 (127.0.0.1, hosts a.example) and mx2 (127.0.0.2,
# hosts c.example), and the real CLI on mx1's store beside its tracker.
#
#   1. Bad inputs against mx2's POST /v1/erase, each changing nothing:
#      unsigned, signed with another key (forged), signed in mx2's own
#      name, stale, a body that is not an erase list; then a valid signed
#      erase is applied and its exact replay refused (a mail recorded
#      since stays).
#   2. mx2 down: erase on mx1 erases there, and the item stays queued for
#      mx2 while the forwarder fails.
#   3. mx2 back: the item is delivered, mx2 erases alice (as sender, as
#      recipient) but keeps what is not hers and a mail created after the
#      request; the queue empties; nothing comes back to mx1 (no loop).
set -u
: "${T_WAIT:=60}"   # a busy CI box; every wait is for a condition
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/pair.sh"
t_init ctl-erase-peers

fatal() { t_fail "$*"; t_summary; exit 1; }

pair_init
t_key "$T/other.key"
pair_conf mx1 "forward_poll = 1s"
pair_conf mx2 "forward_poll = 1s"

ctl() {     # ctl NAME ARGS: mailstatectl on NAME's config; sets RC and OUT
    RC=0
    OUT=$("$CTL_BIN" -c "$T/$1.conf" "${@:2}" 2> "$T/ctl.err") || RC=$?
}
seed() {    # seed NAME ARGS: record a mail in NAME's store
    "$SEED_BIN" -d "$T/store-$1" -k "$PAIR_KEY" "${@:2}"
}
snap() {    # everything NAME's mail log holds
    "$CTL_BIN" -c "$T/$1.conf" list --json --limit 100000 | sha256sum
}
metric() {  # metric NAME URL LABELS
    curl -sf --max-time 5 "$2/metrics" | awk -v m="mailstate_$1$3" '$1 == m { print $2 }'
}
sign() {    # KEYFILE TS SERVER BODY: X-Mailstate-Signature for POST /v1/erase
    /usr/bin/python3 -c '
import hashlib, hmac, sys
# the sync key, derived from the system key (common/keys.h: HKDF-SHA256)
raw = open(sys.argv[1], "rb").read()
prk = hmac.new(b"mailstate system key v1", raw, hashlib.sha256).digest()
key = hmac.new(prk, b"mailstate sync signature\x01", hashlib.sha256).digest()
msg = ("POST\n/v1/erase\n%s\n%s\n" % (sys.argv[2], sys.argv[3])).encode() + sys.argv[4].encode()
print(hmac.new(key, msg, hashlib.sha256).hexdigest())' "$@"
}
post_erase() {  # TS SERVER SIG BODY: POST to mx2's /v1/erase, prints the HTTP code
    curl -s -o "$T/erase.out" -w '%{http_code}' \
        -H "X-Mailstate-Server: $2" -H "X-Mailstate-Timestamp: $1" \
        ${3:+-H "X-Mailstate-Signature: $3"} -H 'Content-Type: application/json' \
        --data-binary "$4" "${PAIR_URL[mx2]}/v1/erase"
}
now_ms() { echo $(( $(date +%s) * 1000 )); }

# The mails, recorded on both servers as the milters would have.
A=$(seed mx1 -s alice@a.example -r bob@c.example=mx2) || fatal "seed A"
seed mx2 -s alice@a.example -r bob@c.example=mx2 -i "$A" > /dev/null || fatal "seed A at mx2"
C=$(seed mx2 -s carol@c.example -r alice@a.example=mx1 -r bob@c.example=mx2) || fatal "seed C"
seed mx1 -s carol@c.example -r alice@a.example -i "$C" > /dev/null || fatal "seed C at mx1"
K=$(seed mx2 -s carol@c.example -r bob@c.example=mx2) || fatal "seed K"
# alice's mail created an hour after now: at mx2 it stands for one that came
# in after the erasure was requested (mx2 was down when it was made)
F=$(seed mx2 -a -3600 -s alice@a.example -r bob@c.example=mx2) || fatal "seed F"
D=$(seed mx2 -a 60 -s dave@c.example -r bob@c.example=mx2) || fatal "seed D"

# ---- 1. bad inputs at mx2 ----
pair_start mx2 || fatal "mx2 starts"
BEFORE=$(snap mx2)
TS=$(date +%s)
BODY="{\"erase\":[{\"address\":\"alice@a.example\",\"before\":$(now_ms)}]}"
# attack: an erase nobody signed
code=$(post_erase "$TS" mx1 "" "$BODY")
[ "$code" = 401 ] && t_ok "unsigned erase refused (401)" || t_fail "unsigned: HTTP $code"
# attack: signed with a key that is not the system's (a forged request)
code=$(post_erase "$TS" mx1 "$(sign "$T/other.key" "$TS" mx1 "$BODY")" "$BODY")
[ "$code" = 401 ] && t_ok "forged signature refused (401)" || t_fail "forged: HTTP $code"
# attack: a sync's signature presented for an erase (same key, other path)
SYNCSIG=$(/usr/bin/python3 -c '
import hashlib, hmac, sys
raw = open(sys.argv[1], "rb").read()
prk = hmac.new(b"mailstate system key v1", raw, hashlib.sha256).digest()
key = hmac.new(prk, b"mailstate sync signature\x01", hashlib.sha256).digest()
msg = ("POST\n/v1/sync\n%s\nmx1\n" % sys.argv[2]).encode() + sys.argv[3].encode()
print(hmac.new(key, msg, hashlib.sha256).hexdigest())' "$PAIR_KEY" "$TS" "$BODY")
code=$(post_erase "$TS" mx1 "$SYNCSIG" "$BODY")
[ "$code" = 401 ] && t_ok "a sync signature is no erase signature (401)" || t_fail "sync sig: HTTP $code"
# attack: mx2's own name (a request looped back or made up locally)
code=$(post_erase "$TS" mx2 "$(sign "$PAIR_KEY" "$TS" mx2 "$BODY")" "$BODY")
[ "$code" = 403 ] && t_ok "erase in the receiver's own name refused (403)" || t_fail "own name: HTTP $code"
# a correctly signed request an hour old (captured and held back)
OLD=$((TS - 3600))
code=$(post_erase "$OLD" mx1 "$(sign "$PAIR_KEY" "$OLD" mx1 "$BODY")" "$BODY")
[ "$code" = 409 ] && t_ok "stale erase refused (409)" || t_fail "stale: HTTP $code"
# signed, but not an erase list: not an address, an unknown field
for bad in '{"erase":[{"address":"not an address","before":1}]}' \
           '{"erase":[{"address":"alice@a.example","before":1,"all":true}]}' \
           '{"erase":[]}'; do
    code=$(post_erase "$TS" mx1 "$(sign "$PAIR_KEY" "$TS" mx1 "$bad")" "$bad")
    [ "$code" = 422 ] && t_ok "bad body refused (422): $bad" || t_fail "bad body $bad: HTTP $code"
done
[ "$BEFORE" = "$(snap mx2)" ] && t_ok "mx2's mail log unchanged by the refused requests" ||
    t_fail "a refused request changed mx2's mail log"
# a valid erase of dave, then its exact replay after a new mail of dave
DBODY="{\"erase\":[{\"address\":\"dave@c.example\",\"before\":$(now_ms)}]}"
DSIG=$(sign "$PAIR_KEY" "$TS" mx1 "$DBODY")
code=$(post_erase "$TS" mx1 "$DSIG" "$DBODY")
[ "$code" = 200 ] && jq -e '.erased == 1' "$T/erase.out" > /dev/null &&
    t_ok "a valid signed erase is applied (dave's mail)" || t_fail "valid erase: HTTP $code $(cat "$T/erase.out")"
"$CTL_BIN" -c "$T/mx2.conf" show "${D%%.*}" > /dev/null 2>&1
[ $? = 3 ] && t_ok "dave's mail gone at mx2" || t_fail "dave's mail still at mx2"
D2=$(seed mx2 -a 30 -s dave@c.example -r bob@c.example=mx2) || fatal "seed D2"
BEFORE=$(snap mx2)
code=$(post_erase "$TS" mx1 "$DSIG" "$DBODY")
[ "$code" = 409 ] && t_ok "its exact replay refused (409)" || t_fail "replay: HTTP $code"
[ "$BEFORE" = "$(snap mx2)" ] && t_ok "the replay erased nothing (dave's newer mail stays)" ||
    t_fail "the replay changed mx2's mail log"
pair_stop mx2

# ---- 2. mx2 down: erased at mx1, queued for mx2 ----
pair_start mx1 || fatal "mx1 starts"
ctl mx1 erase --json --yes alice@a.example
[ "$RC" = 0 ] && jq -e '.erased == 2 and .queued_for == ["mx2"]' <<<"$OUT" > /dev/null &&
    t_ok "erase on mx1: her mail and her entry, queued for mx2" || t_fail "erase: $RC $OUT $(cat "$T/ctl.err")"
failed() { v=$(metric forward_failures_total "${PAIR_URL[mx1]}" '{peer="mx2"}'); [ "${v:-0}" -ge 2 ]; }
t_wait failed && t_ok "the forwarder tried the down peer" || t_fail "no forward failure counted"
ctl mx1 status --json
jq -e '.peers[0].erasures == 1' <<<"$OUT" > /dev/null &&
    t_ok "the erasure stays queued while mx2 is down" || t_fail "status: $OUT"
[ "$(metric outbox_erasures "${PAIR_URL[mx1]}" '{peer="mx2"}')" = 1 ] &&
    t_ok "mailstate_outbox_erasures{peer=mx2} is 1" || t_fail "erasure gauge"
ctl mx2 export alice@a.example
[ "$RC" = 0 ] && t_ok "mx2 still holds her data meanwhile" || t_fail "mx2 export: $RC"

# ---- 3. mx2 back: delivered and applied, once ----
pair_start mx2 || fatal "mx2 restarts"
sent() { [ "$(metric forward_erasures_sent_total "${PAIR_URL[mx1]}" '{peer="mx2"}')" = 1 ]; }
t_wait sent && t_ok "the erasure was delivered to mx2" || t_fail "not delivered"
ctl mx1 status --json
jq -e '.peers[0].erasures == 0' <<<"$OUT" > /dev/null && t_ok "mx1's queue is empty" ||
    t_fail "status: $OUT"
grep -q "erase from mx1: alice@a.example: 2 entries erased" "$T/mx2.log" &&
    t_ok "mx2 logged the erasure (her mail and her entry)" || t_fail "no erase line in mx2's log"
ctl mx2 show "${A%%.*}"
[ "$RC" = 3 ] && t_ok "her mail is gone at mx2" || t_fail "A at mx2: $RC"
ctl mx2 show --json "${C%%.*}"
jq -e '[.recipients[].address] == ["bob@c.example"]' <<<"$OUT" > /dev/null &&
    t_ok "carol's mail stays at mx2, without her entry" || t_fail "C at mx2: $OUT"
ctl mx2 show "${K%%.*}"
[ "$RC" = 0 ] && t_ok "a mail that is not hers stays" || t_fail "K at mx2: $RC"
ctl mx2 show "${F%%.*}"
[ "$RC" = 0 ] && t_ok "her mail created after the request stays" || t_fail "F at mx2: $RC"
ctl mx2 status --json
jq -e '.peers[0].peer == "mx1" and .peers[0].erasures == 0' <<<"$OUT" > /dev/null &&
    t_ok "mx2 queued nothing onward (no loop)" || t_fail "mx2 status: $OUT"
[ "$(metric erase_addresses_total "${PAIR_URL[mx1]}" '')" = 0 ] &&
    t_ok "mx1 was never asked to erase" || t_fail "mx1 erase counter"
pair_stop mx1
pair_stop mx2
t_summary
