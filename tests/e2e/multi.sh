#!/bin/bash
# multi.sh - one mail system, two servers (issue 6 §5, design §7).
#
# mx1 (127.0.0.1) hosts a.example, mx2 (127.0.0.2) hosts c.example.  Each has
# its own private Postfix, mailstate-milter, mailstate-tracker and LMDB store;
# both configs carry the same [system] and [server] sections and key.
#
#   1. alice@a.example (mx1) sends to bob@c.example (mx2) and dave@a.example:
#      mx2's delivered copy carries the same X-Mail-Id, both servers record.
#   2. bob's read at mx2 reaches mx1 (time measured and printed).
#   3. mx1's tracker stopped: reads at mx2 are answered and queue in the
#      outbox, survive a restart of mx2's tracker, and arrive when mx1 is
#      back (outbox figures printed).
#   4. A replayed sync, a stale one and one with a bad signature change
#      nothing at mx1 and are counted by reason; an entry for a recipient mx1
#      never recorded is refused and counted.
#
# Environment (CTest sets it): MILTER_BIN, TRACKER_BIN.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib/common.sh"
t_init multi

: "${MILTER_BIN:?}" "${TRACKER_BIN:?}"
command -v swaks >/dev/null || { echo "swaks missing"; exit 1; }

# A failed precondition ends the test (t_fail only counts).
fatal() { t_fail "$*"; t_summary; exit 1; }

KEY=$T/system.key
t_key "$KEY"
TOKEN=multi-test-token-0123456789abcdef
SMTP1=$(t_port); SMTP2=$(t_port); HTTP1=$(t_port); HTTP2=$(t_port)
declare -A IP=([mx1]=127.0.0.1 [mx2]=127.0.0.2)
declare -A SMTP=([mx1]=$SMTP1 [mx2]=$SMTP2)
declare -A HTTP=([mx1]=$HTTP1 [mx2]=$HTTP2)
declare -A DOMAIN=([mx1]=a.example [mx2]=c.example)
declare -A USERS=([mx1]="alice dave" [mx2]="bob carol")
declare -A PEER=([mx1]=mx2 [mx2]=mx1)
url() { echo "http://${IP[$1]}:${HTTP[$1]}"; }

now_ms() { date +%s%3N; }

# Like t_wait, but polls back to back (each poll is one curl, ~10 ms), so the
# measured delays are not rounded up to t_wait's 100 ms steps.
wait_fast() {
    local end=$(( $(now_ms) + T_WAIT * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
    done
    return 1
}

# ---- configs: the same system, one file per server ----

write_conf() {   # NAME
    local n=$1 d=$T/$1
    mkdir -p "$d/db" "$d/run"
    cat > "$d/mailstate.conf" <<EOF
[system]
this_server      = $n
key_file         = $KEY
trusted_networks = 127.0.0.0/8

[server mx1]
domains = a.example
tracker = $(url mx1)

[server mx2]
domains = c.example
tracker = $(url mx2)

[milter]
socket      = unix:$d/run/milter.sock
socket_mode = 0666
on_error    = accept

[tracker]
listen = ${IP[$n]}:${HTTP[$n]}

[store]
path = $d/db

[token test]
secret = $TOKEN
scopes = notify query events
EOF
    chmod 600 "$d/mailstate.conf"   # an inline secret needs a private file
}

# ---- daemons (two of each kind, so not the single-instance helpers) ----

start_daemon() {  # KIND NAME   (KIND = milter | tracker)
    local kind=$1 n=$2 bin
    [ "$kind" = milter ] && bin=$MILTER_BIN || bin=$TRACKER_BIN
    "$bin" -f -c "$T/$n/mailstate.conf" >> "$T/$n/$kind.log" 2>&1 &
    echo $! > "$T/$n/$kind.pid"
}

stop_daemon() {   # KIND NAME: SIGTERM, wait until it is gone; its exit status
    local f=$T/$2/$1.pid pid rc=0
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || rc=$?
    rm -f "$f"
    return $rc
}

healthy() { curl -sf -o /dev/null "$(url "$1")/healthz"; }

start_tracker() {
    start_daemon tracker "$1"
    t_wait healthy "$1" || fatal "$1: tracker did not come up (see $T/$1/tracker.log)"
}

# ---- private Postfix per server ----

pf_dir() { echo "$T/$1/postfix"; }

pf_start() {      # NAME
    local n=$1 d peer=${PEER[$1]} aliases="" u
    d=$(pf_dir "$n")
    mkdir -p "$d/queue" "$d/data" "$T/$n/mail"
    chown postfix "$d/data"
    : > "$d/main.cf"
    cp /etc/postfix/master.cf.proto "$d/master.cf"
    for u in ${USERS[$n]}; do
        mkdir -p "$T/$n/mail/$u"
        chown nobody "$T/$n/mail/$u"
        aliases="$aliases $u=$T/$n/mail/$u/,"
    done
    postconf -c "$d" -e compatibility_level=3.6 \
        queue_directory="$d/queue" data_directory="$d/data" \
        mail_owner=postfix setgid_group=postdrop syslog_name="pf-$n" \
        maillog_file="$d/maillog" maillog_file_prefixes="$T" \
        myhostname="$n.${DOMAIN[$n]}" mydomain="${DOMAIN[$n]}" \
        myorigin="${DOMAIN[$n]}" mydestination="${DOMAIN[$n]}" \
        inet_interfaces=loopback-only inet_protocols=ipv4 mynetworks=127.0.0.0/8 \
        smtp_bind_address="${IP[$n]}" \
        "alias_maps=inline:{${aliases%,} }" alias_database= \
        local_recipient_maps= default_privs=nobody \
        "transport_maps=inline:{ ${DOMAIN[$peer]}=smtp:[${IP[$peer]}]:${SMTP[$peer]} }" \
        smtp_host_lookup=native smtp_dns_support_level=disabled \
        "smtpd_milters=unix:$T/$n/run/milter.sock" \
        "non_smtpd_milters=unix:$T/$n/run/milter.sock" \
        milter_default_action=accept milter_protocol=6 smtpd_peername_lookup=no \
        biff=no relay_domains= delay_warning_time=0 \
        queue_run_delay=1s minimal_backoff_time=1s maximal_backoff_time=2s
    # mx2 hosts the list team@c.example: carol here, dave on mx1 (section 5)
    if [ "$n" = mx2 ]; then
        printf 'team@c.example carol@c.example, dave@a.example\n' > "$d/virtual"
        postconf -c "$d" -e "virtual_alias_maps=texthash:$d/virtual"
    fi
    sed -i '/^smtp      inet/d' "$d/master.cf"
    echo "${IP[$n]}:${SMTP[$n]} inet n - n - - smtpd" >> "$d/master.cf"
    postconf -c "$d" -F '*/*/chroot = n'
    postfix -c "$d" start >/dev/null 2>&1 ||
        { script -qc "postfix -c $d check" /dev/null; fatal "$n: postfix did not start"; }
}

pf_stop() {
    local d
    d=$(pf_dir "$1")
    [ -f "$d/main.cf" ] || return 0
    postfix -c "$d" stop >/dev/null 2>&1
    for _ in $(seq 100); do postfix -c "$d" status >/dev/null 2>&1 || break; sleep 0.1; done
}

cleanup_multi() {
    for n in mx1 mx2; do
        pf_stop "$n"
        stop_daemon milter "$n"
        stop_daemon tracker "$n"
    done
}
t_defer cleanup_multi

delivered() {     # NAME USER COUNT: at least COUNT messages in USER's Maildir
    [ "$(find "$T/$1/mail/$2/new" -type f 2>/dev/null | wc -l)" -ge "$3" ]
}

header() { t_header "$1" "$2" | head -n1; }   # FILE NAME: first value

# ---- HTTP helpers ----

api() {           # NAME METHOD PATH [BODY]: prints the body, HTTP code in $T/code
    local n=$1 m=$2 p=$3
    shift 3
    curl -s -o "$T/api.out" -w '%{http_code}' -X "$m" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${1:+--data-binary "$1"} "$(url "$n")$p" > "$T/code"
    cat "$T/api.out"
}

rcpt_field() {    # NAME ID RCPT FIELD: one field of one recipient (GET /v1/mails/ID)
    api "$1" GET "/v1/mails/$2" | jq -r --arg a "$3" --arg f "$4" \
        '.recipients[] | select(.address == $a) | .[$f] // empty' 2>/dev/null
}

read_at() {       # NAME MAILID RCPT: a read notification, prints the HTTP code
    api "$1" POST /v1/reads \
        "{\"mail_id\":\"$2\",\"recipient\":\"$3\",\"sender\":\"alice@a.example\"}" >/dev/null
    cat "$T/code"
}

metric() {        # NAME SERIES (e.g. 'mailstate_outbox_depth{peer="mx1"}')
    curl -s "$(url "$1")/metrics" | awk -v s="$2" '$1 == s {print $2; exit}'
}

is_status() { [ "$(rcpt_field "$1" "$2" "$3" status)" = "$4" ]; }
is_count() { [ "$(rcpt_field "$1" "$2" "$3" read_count)" = "$4" ]; }
metric_ge() { local v; v=$(metric "$1" "$2"); [ -n "$v" ] && [ "${v%.*}" -ge "$3" ]; }
metric_eq() { [ "$(metric "$1" "$2")" = "$3" ]; }

sign() {          # KEYFILE TS SERVER BODY: the X-Mailstate-Signature of a sync
    /usr/bin/python3 -c '
import hashlib, hmac, sys
# The signing key is derived from the system key (common/keys.h: HKDF-SHA256).
raw = open(sys.argv[1], "rb").read()
prk = hmac.new(b"mailstate system key v1", raw, hashlib.sha256).digest()
key = hmac.new(prk, b"mailstate sync signature\x01", hashlib.sha256).digest()
msg = ("POST\n/v1/sync\n%s\n%s\n" % (sys.argv[2], sys.argv[3])).encode() + sys.argv[4].encode()
print(hmac.new(key, msg, hashlib.sha256).hexdigest())' "$@"
}

post_sync() {     # TS SERVER SIG BODY: POST to mx1's /v1/sync, prints the HTTP code
    curl -s -o "$T/sync.out" -w '%{http_code}' \
        -H "X-Mailstate-Server: $2" -H "X-Mailstate-Timestamp: $1" \
        -H "X-Mailstate-Signature: $3" -H 'Content-Type: application/json' \
        --data-binary "$4" "$(url mx1)/v1/sync"
}

# ---- start everything ----

for n in mx1 mx2; do
    write_conf "$n"
    "$TRACKER_BIN" -n -c "$T/$n/mailstate.conf" > "$T/$n/check.out" 2>&1 ||
        { cat "$T/$n/check.out"; fatal "$n: config refused"; }
done
for n in mx1 mx2; do
    start_daemon milter "$n"
    t_wait test -S "$T/$n/run/milter.sock" || fatal "$n: milter socket missing"
    start_tracker "$n"
    pf_start "$n"
done
t_wait t_port_open "$SMTP1" 127.0.0.1 || fatal "mx1: smtpd not listening"
t_wait t_port_open "$SMTP2" 127.0.0.2 || fatal "mx2: smtpd not listening"

send() {          # SUBJECT
    swaks --silent 2 --server "127.0.0.1:$SMTP1" -f alice@a.example \
        -t bob@c.example,dave@a.example --h-Subject "$1" >> "$T/swaks.log" 2>&1 ||
        fatal "swaks: $1 not accepted"
}

# ---- 1. relay path ----

send "first"
t_wait delivered mx1 dave 1 || fatal "dave@a.example: not delivered at mx1"
t_wait delivered mx2 bob 1 || fatal "bob@c.example: not delivered at mx2"
F1=$(find "$T/mx1/mail/dave/new" -type f | head -1)
F2=$(find "$T/mx2/mail/bob/new" -type f | head -1)
MID1=$(header "$F1" X-Mail-Id)
[ -n "$MID1" ] && t_ok "mx1 tagged the mail: $MID1" || fatal "no X-Mail-Id at mx1"
[ "$(header "$F2" X-Mail-Id)" = "$MID1" ] &&
    t_ok "mx2's copy carries the same X-Mail-Id" ||
    t_fail "mx2's copy: X-Mail-Id '$(header "$F2" X-Mail-Id)' != '$MID1'"
[ "$(grep -ci '^X-Mail-Id:' "$F2")" = 1 ] && t_ok "exactly one X-Mail-Id at mx2" ||
    t_fail "mx2's copy has $(grep -ci '^X-Mail-Id:' "$F2") X-Mail-Id headers"
[ "$(header "$F2" X-Sender)" = alice@a.example ] && [ "$(t_header "$F2" X-Sender | wc -l)" = 1 ] &&
    t_ok "mx2's copy carries one X-Sender: alice@a.example" ||
    t_fail "mx2's copy: X-Sender '$(t_header "$F2" X-Sender | tr '\n' ' ')'"
ID1=${MID1%%.*}
is_status mx1 "$ID1" bob@c.example sent && is_status mx1 "$ID1" dave@a.example sent &&
    t_ok "mx1 recorded bob@c.example and dave@a.example as sent" ||
    t_fail "mx1's entry: $(api mx1 GET "/v1/mails/$ID1")"
is_status mx2 "$ID1" bob@c.example sent &&
    t_ok "mx2 recorded its own recipient bob@c.example" ||
    t_fail "mx2's entry: $(api mx2 GET "/v1/mails/$ID1")"
[ -z "$(rcpt_field mx2 "$ID1" dave@a.example status)" ] &&
    t_ok "mx2 did not record mx1's recipient" || t_fail "mx2 recorded dave@a.example"

# ---- 2. a read at mx2 reaches mx1 ----

t0=$(now_ms)
code=$(read_at mx2 "$MID1" bob@c.example)
[ "$code" = 200 ] && t_ok "read at mx2 accepted" || t_fail "read at mx2: HTTP $code $(cat "$T/api.out")"
if wait_fast is_status mx1 "$ID1" bob@c.example read; then
    LATENCY=$(( $(now_ms) - t0 ))
    t_ok "the read reached mx1 (${LATENCY} ms after the notification)"
    echo "FIGURE read_to_home_ms=$LATENCY"
else
    t_fail "the read never reached mx1"
fi
[ "$(rcpt_field mx1 "$ID1" bob@c.example first_read)" = \
  "$(rcpt_field mx2 "$ID1" bob@c.example first_read)" ] &&
    t_ok "first_read equal on both servers" || t_fail "first_read differs"
# The event feed (issue 17): the read is a local event at mx2 and, merged
# from the peer, an event of the sender's server mx1.
api mx2 GET "/v1/events?after=0" | jq -e --arg id "$ID1" '[.events[] | select(.mail_id == $id
    and .recipient == "bob@c.example" and .event == "read")][0] | .source == "local"
    and .sender == "alice@a.example"' >/dev/null &&
    t_ok "mx2's feed: bob's read, source local" || t_fail "mx2 feed: $(cat "$T/api.out")"
api mx1 GET "/v1/events?after=0" | jq -e --arg id "$ID1" '[.events[] | select(.mail_id == $id
    and .recipient == "bob@c.example")] | length == 1 and .[0].source == "peer"
    and .[0].event == "read" and .[0].status == "read" and .[0].sender == "alice@a.example"' \
    >/dev/null && t_ok "mx1's feed: the merged read, source peer" ||
    t_fail "mx1 feed: $(cat "$T/api.out")"
is_status mx1 "$ID1" dave@a.example sent && t_ok "dave@a.example still sent" ||
    t_fail "dave@a.example changed"
# four more reads of the same mail, each timed until mx1 shows the new count
SAMPLES=$LATENCY ACKS=
for n in 2 3 4 5; do
    t0=$(now_ms)
    [ "$(read_at mx2 "$MID1" bob@c.example)" = 200 ] || t_fail "read $n at mx2 refused"
    ACKS="$ACKS $(( $(now_ms) - t0 ))"
    if wait_fast is_count mx1 "$ID1" bob@c.example "$n"; then
        SAMPLES="$SAMPLES $(( $(now_ms) - t0 ))"
    else
        t_fail "read $n never reached mx1"
    fi
done
t_ok "5 reads reached mx1, ms each: $SAMPLES"
echo "FIGURE read_to_home_ms_samples=\"$SAMPLES\" median=$(printf '%s\n' $SAMPLES | sort -n | sed -n 3p) (of which the durable read at mx2 itself, reads 2-5:$ACKS; load average $(cut -d' ' -f1 /proc/loadavg))"
EXPECT=5

# ---- 3. outage of mx1's tracker ----

send "second"
t_wait delivered mx2 bob 2 || fatal "second mail not delivered at mx2"
F2b=$(ls -t "$T"/mx2/mail/bob/new/* | head -1)
MID2=$(header "$F2b" X-Mail-Id)
ID2=${MID2%%.*}
[ "$ID2" != "$ID1" ] && [ -n "$ID2" ] || fatal "second mail id '$MID2'"
t_wait is_status mx1 "$ID2" bob@c.example sent || fatal "mx1 did not record the second mail"

stop_daemon tracker mx1
out_start=$(now_ms)
[ "$(read_at mx2 "$MID2" bob@c.example)" = 200 ] && [ "$(read_at mx2 "$MID1" bob@c.example)" = 200 ] &&
    t_ok "mx2 answers reads while mx1 is down" || t_fail "mx2 refused a read while mx1 is down"
is_count mx2 "$ID1" bob@c.example $((EXPECT + 1)) || t_fail "mx2: another read of mail 1 not counted"
t_wait metric_ge mx2 'mailstate_forward_failures_total{peer="mx1"}' 1 &&
    t_ok "mx2 tried and failed to reach mx1" || t_fail "no failed forward counted"
DEPTH=$(metric mx2 'mailstate_outbox_depth{peer="mx1"}')
[ "${DEPTH:-0}" -ge 1 ] && t_ok "outbox for mx1 holds $DEPTH item(s)" ||
    t_fail "outbox for mx1 is empty while mx1 is down"

# SIGTERM while its forwarder is backing off: a clean, prompt exit
stop_daemon tracker mx2 && t_ok "mx2's tracker stopped cleanly on SIGTERM during the outage" ||
    t_fail "mx2's tracker: exit status $? on SIGTERM"
start_tracker mx2
DEPTH2=$(metric mx2 'mailstate_outbox_depth{peer="mx1"}')
[ "$DEPTH2" = "$DEPTH" ] && t_ok "outbox survived a restart of mx2's tracker ($DEPTH2)" ||
    t_fail "outbox after restart: $DEPTH2, before: $DEPTH"
# let the restarted forwarder retry with backoff a few times (1 s, then 2 s)
t_wait metric_ge mx2 'mailstate_forward_failures_total{peer="mx1"}' 3 &&
    t_ok "restarted forwarder retries while mx1 is down" ||
    t_fail "restarted forwarder did not retry"
AGE=$(metric mx2 'mailstate_outbox_oldest_age_seconds{peer="mx1"}')
FAILS=$(metric mx2 'mailstate_forward_failures_total{peer="mx1"}')
echo "FIGURE outage_outbox_depth=$DEPTH2 oldest_age_s=$AGE failures_since_restart=$FAILS outage_ms=$(( $(now_ms) - out_start ))"

start_tracker mx1
back=$(now_ms)
wait_fast is_status mx1 "$ID2" bob@c.example read && t_wait is_count mx1 "$ID1" bob@c.example $((EXPECT + 1)) &&
    t_ok "queued reads arrived at mx1 after it came back ($(( $(now_ms) - back )) ms)" ||
    t_fail "queued reads missing at mx1: $(api mx1 GET "/v1/mails/$ID1")"
echo "FIGURE drain_after_return_ms=$(( $(now_ms) - back ))"
t_wait metric_eq mx2 'mailstate_outbox_depth{peer="mx1"}' 0 &&
    t_ok "outbox for mx1 empty again" || t_fail "outbox not drained"
[ "$(metric mx2 'mailstate_outbox_parked{peer="mx1"}')" = 0 ] && t_ok "nothing parked" ||
    t_fail "items parked"
echo "FIGURE after_drain $(curl -s "$(url mx2)/metrics" | grep -E '^mailstate_(outbox|forward)_[a-z_]*\{peer="mx1"\}' | tr '\n' ' ')"

# ---- 4. replayed, stale, forged syncs change nothing ----

before=$(api mx1 GET "/v1/mails/$ID1" | jq -c '.recipients')
TS=$(date +%s)
BIG="{\"entries\":[{\"mail_id\":\"$ID1\",\"sender\":\"alice@a.example\",\"recipient\":\"bob@c.example\",\"status\":\"read\",\"first_read\":1,\"last_read\":4102444800000,\"read_count\":999,\"via\":\"imap\"}]}"

# a bad signature (signed with another key)
t_key "$T/other.key"
code=$(post_sync "$TS" mx2 "$(sign "$T/other.key" "$TS" mx2 "$BIG")" "$BIG")
[ "$code" = 401 ] && t_ok "bad signature refused (401)" || t_fail "bad signature: HTTP $code"
# a correctly signed but stale request (an hour old)
OLD=$((TS - 3600))
code=$(post_sync "$OLD" mx2 "$(sign "$KEY" "$OLD" mx2 "$BIG")" "$BIG")
[ "$code" = 409 ] && t_ok "stale timestamp refused (409)" || t_fail "stale: HTTP $code"
# signed by this very server's name
code=$(post_sync "$TS" mx1 "$(sign "$KEY" "$TS" mx1 "$BIG")" "$BIG")
[ "$code" = 403 ] && t_ok "sync claiming to come from mx1 itself refused (403)" ||
    t_fail "self sync: HTTP $code"
after=$(api mx1 GET "/v1/mails/$ID1" | jq -c '.recipients')
[ "$before" = "$after" ] && t_ok "mx1 unchanged by forged and stale syncs" ||
    t_fail "mx1 changed: $before -> $after"

# a valid request that restates mx1's current state, then its exact replay
SAME=$(curl -s "$(url mx2)/v1/mails/$ID1" -H "Authorization: Bearer $TOKEN" | jq -c --arg id "$ID1" \
  '{entries: [.recipients[] | select(.address == "bob@c.example") |
    {mail_id: $id, sender: "alice@a.example", recipient: .address, status: .status,
     first_read: 0, last_read: 0, read_count: .read_count, via: (.via // "")}]}')
SIG=$(sign "$KEY" "$TS" mx2 "$SAME")
code=$(post_sync "$TS" mx2 "$SIG" "$SAME")
[ "$code" = 200 ] && t_ok "a valid sync accepted ($(cat "$T/sync.out"))" ||
    t_fail "valid sync: HTTP $code $(cat "$T/sync.out")"
code=$(post_sync "$TS" mx2 "$SIG" "$SAME")
[ "$code" = 409 ] && t_ok "its exact replay refused (409)" || t_fail "replay: HTTP $code"
after=$(api mx1 GET "/v1/mails/$ID1" | jq -c '.recipients')
[ "$before" = "$after" ] && t_ok "mx1 unchanged by the replay" ||
    t_fail "mx1 changed: $before -> $after"

# an entry for a recipient mx1 never recorded for that mail
NOREC="{\"entries\":[{\"mail_id\":\"$ID1\",\"sender\":\"alice@a.example\",\"recipient\":\"carol@c.example\",\"status\":\"read\",\"first_read\":1,\"last_read\":1,\"read_count\":1,\"via\":\"imap\"}]}"
TS2=$((TS + 1))
code=$(post_sync "$TS2" mx2 "$(sign "$KEY" "$TS2" mx2 "$NOREC")" "$NOREC")
[ "$code" = 200 ] && [ "$(jq -r .refused "$T/sync.out")" = 1 ] &&
    t_ok "entry for an unrecorded recipient refused and counted" ||
    t_fail "unrecorded recipient: HTTP $code $(cat "$T/sync.out")"
[ -z "$(rcpt_field mx1 "$ID1" carol@c.example status)" ] && t_ok "carol@c.example not added" ||
    t_fail "carol@c.example appeared at mx1"

for r in bad_signature stale_timestamp replay unknown_peer unknown_recipient; do
    metric_ge mx1 "mailstate_sync_refused_total{reason=\"$r\"}" 1 &&
        t_ok "mx1 counts refused syncs: $r" || t_fail "mx1 metric for $r missing"
done

# ---- 5. a list with members on two servers (issue 11) ----
# alice (mx1) writes to team@c.example, a list on mx2 (virtual_alias_maps:
# carol@c.example here, dave@a.example back on mx1).  mx1 records team@ for
# mx2; mx2 keeps the id and records team@; Postfix expands after the milter,
# so carol's delivery reports received with the list as original recipient
# (what the Dovecot plugin sends from LMTP), her read follows; mx2 makes her
# a member entry and forwards it; mx1 takes it because it recorded team@ for
# mx2.  dave's copy comes back to mx1 from the peer and is recorded there.
swaks --silent 2 --server "127.0.0.1:$SMTP1" -f alice@a.example -t team@c.example \
    --h-Subject "list" >> "$T/swaks.log" 2>&1 || fatal "swaks: list mail not accepted"
t_wait delivered mx2 carol 1 || fatal "carol@c.example: list mail not delivered"
t_wait delivered mx1 dave 3 || fatal "dave@a.example: list mail not delivered back at mx1"
F5=$(find "$T/mx2/mail/carol/new" -type f | head -1)
MID5=$(header "$F5" X-Mail-Id)
ID5=${MID5%%.*}
[ -n "$ID5" ] && t_ok "the list mail reached carol tagged" || fatal "carol's copy untagged"
is_status mx1 "$ID5" team@c.example sent && t_ok "mx1 recorded the list team@c.example (mx2)" ||
    t_fail "mx1: $(api mx1 GET "/v1/mails/$ID5")"
is_status mx2 "$ID5" team@c.example sent && t_ok "mx2 recorded the list under the kept id" ||
    t_fail "mx2: $(api mx2 GET "/v1/mails/$ID5")"
is_status mx1 "$ID5" dave@a.example sent && t_ok "dave's copy from the peer recorded at mx1" ||
    t_fail "mx1 dave: $(api mx1 GET "/v1/mails/$ID5")"
code=$(api mx2 POST /v1/reads "{\"mail_id\":\"$MID5\",\"recipient\":\"carol@c.example\",\"sender\":\"alice@a.example\",\"event\":\"received\",\"via\":\"lmtp\",\"original_recipient\":\"team@c.example\"}" >/dev/null; cat "$T/code")
[ "$code" = 200 ] && t_ok "mx2: received for carol through the list" || t_fail "received at mx2: $code $(cat "$T/api.out")"
[ "$(read_at mx2 "$MID5" carol@c.example)" = 200 ] && t_ok "mx2: carol read it" ||
    t_fail "read at mx2: $(cat "$T/api.out")"
[ "$(read_at mx1 "$MID5" dave@a.example)" = 200 ] && t_ok "mx1: dave read it" ||
    t_fail "read at mx1: $(cat "$T/api.out")"
if t_wait is_status mx1 "$ID5" carol@c.example read; then
    t_ok "carol's member entry reached mx1 with her read"
else
    t_fail "carol never reached mx1: $(api mx1 GET "/v1/mails/$ID5")"
fi
api mx1 GET "/v1/mails/$ID5" | jq -e '
    ([.recipients[] | select(.address == "carol@c.example")][0]
        | .server == "mx2" and .original_recipient == "team@c.example")
    and ([.recipients[] | select(.address == "team@c.example")][0]
        | .expanded == true and .members.total == 1 and .members.read == 1)
    and ([.recipients[] | select(.address == "dave@a.example")][0] | .status == "read")' >/dev/null &&
    t_ok "mx1 shows carol (via team@) and dave read, the list expanded" ||
    t_fail "mx1's view: $(cat "$T/api.out")"
# attack: mx2 signs a member entry under an original mx1 never recorded for
# that mail; mx1 refuses it and adds nobody.
TS3=$(( $(date +%s) + 2 ))
FORGEDM="{\"entries\":[{\"mail_id\":\"$ID5\",\"sender\":\"alice@a.example\",\"recipient\":\"mallory@c.example\",\"status\":\"read\",\"first_read\":1,\"last_read\":1,\"read_count\":1,\"via\":\"imap\",\"original_recipient\":\"board@c.example\"}]}"
code=$(post_sync "$TS3" mx2 "$(sign "$KEY" "$TS3" mx2 "$FORGEDM")" "$FORGEDM")
[ "$code" = 200 ] && [ "$(jq -r .refused "$T/sync.out")" = 1 ] &&
    t_ok "a member entry under an unrecorded original refused" ||
    t_fail "forged member: HTTP $code $(cat "$T/sync.out")"
[ -z "$(rcpt_field mx1 "$ID5" mallory@c.example status)" ] && t_ok "mallory@c.example not added" ||
    t_fail "mallory@c.example appeared at mx1"

t_summary
