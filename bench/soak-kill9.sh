#!/bin/bash
# soak-kill9.sh - kill -9 under load, many times (issue 15 item 5).  Not in
# CI: run on demand, it takes minutes (nice -n 10 on a shared machine).
#
#   TRACKER_BIN=... SEED_BIN=... DOVECOT_PLUGIN=... \
#       bench/soak-kill9.sh [CYCLES] [API_READERS] [IMAP_USERS]
#
# One tracker on a private port ([log] rate = 0: every story line is kept)
# and a private Dovecot with the mailstate plugin (tests/lib/dovecot.sh,
# mailstate_retry_interval = 2s, its own token "dovecot").
#
# API: MAILS mails with 8 recipients each, seeded as the milter would.
# API_READERS concurrent curl loops post reads of random (mail, recipient)
# pairs and append every pair the tracker answered 200 to an
# acknowledgement file (only after the answer).
#
# IMAP: IMAP_USERS users (m1@a.example ...), IMAP_MSGS tracked mails each
# (seeded with that user as recipient, put into the user's Maildir with
# their X-Mail-Id and X-Sender).  One bench/soak-imap.py per user loops:
# log in, set \Seen on 1-8 random unseen messages (each read once), now and
# then idle in the session, log out.  Every STORE the server answered OK is
# a read the plugin owes the tracker: it posts it, or spools it when the
# tracker is down (killed) and replays it at the next login, from the
# in-session retry, or from "doveadm mailstate replay -A" (the timer's
# command, run once at the end here).
#
# Each cycle waits (a condition, not a sleep) until at least 20 new API
# reads and 5 new IMAP reads were acknowledged, kills the tracker with
# SIGKILL mid-load and starts it again.  At the end the readers are told to
# stop and waited for (bounded: stragglers are killed and reported), the
# spools are replayed, and:
#   - every acknowledged API pair is read in the store with read_count at
#     least its number of acknowledgements, and has as many "recorded"
#     story lines in the tracker's log (the line is written before the
#     answer is queued);
#   - every IMAP read is read in the store (read_count >= 1; above 1 is a
#     duplicate: the tracker committed but was killed before it answered,
#     so the plugin spooled and replayed it - documented, counted), and
#     has a story line from token dovecot;
#   - every spooled read was answered exactly once from the plugin's side:
#     answered replays (plugin's "tracker recorded" lines minus the direct
#     ones) = spooled events, and the spools are empty (no file, claim or
#     set-aside file left).
# Prints the figures; exit 1 on any missing read, short count, missing
# story line, replay mismatch or non-empty spool.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/common.sh"
. "$here/../tests/lib/tracker.sh"
. "$here/../tests/tracker/lib.sh"
. "$here/../tests/lib/dovecot.sh"

CYCLES=${1:-50}
READERS=${2:-4}
IMAP_USERS=${3:-4}
MAILS=50
IMAP_MSGS=${IMAP_MSGS:-1000}
: "${TRACKER_BIN:?}" "${SEED_BIN:?}" "${DOVECOT_PLUGIN:?}"
t_init soak-kill9

DOVECOT_TOKEN=dovecot-secret-0123456789abcdef
PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT" "
[token dovecot]
secret = $DOVECOT_TOKEN
scopes = notify

[log]
rate = 0"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY
seed -s alice@a.example -r bob@a.example -R 7 -m "$MAILS" > "$T/mails" || exit 1
mapfile -t ids < "$T/mails"
rcpts=(bob@a.example u0@a.example u1@a.example u2@a.example u3@a.example u4@a.example
       u5@a.example u6@a.example)
imap_users=()
for i in $(seq 1 "$IMAP_USERS"); do imap_users+=("m$i"); done
for u in "${imap_users[@]}"; do
    seed -s alice@a.example -r "$u@a.example" -m "$IMAP_MSGS" > "$T/imap-mails.$u" || exit 1
done
tracker_start "$T/ms.conf" || exit 1

# shellcheck disable=SC2034  # read by dovecot_start
DOVECOT_USERS="${imap_users[*]}"
dovecot_start "$TRACKER_URL" "$DOVECOT_TOKEN" "  mailstate_retry_interval = 2s" || exit 1
# The mails go straight into the Maildirs (delivery is not under test here;
# LMTP would also post a "received" event per mail).
for u in "${imap_users[@]}"; do
    /usr/bin/python3 - "$DOVECOT_DIR/home/$u/Maildir" "$u@a.example" "$T/imap-mails.$u" <<'EOF' || exit 1
import os, sys, time
md, rcpt, ids = sys.argv[1:4]
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(md, d), exist_ok=True)
now = int(time.time())
for n, line in enumerate(open(ids)):
    mid = line.strip()
    with open(os.path.join(md, "new", "%d.M%dP%d.soak" % (now, n, os.getpid())), "w") as f:
        f.write("From: alice@a.example\r\nTo: %s\r\nSubject: soak %d\r\n"
                "X-Mail-Id: %s\r\nX-Sender: alice@a.example\r\n\r\nhello\r\n" % (rcpt, n, mid))
EOF
done
chown -R nobody:nogroup "$DOVECOT_DIR/home"

api_reader() {      # api_reader N: post reads until $T/stop exists
    local me=$1 m r code sent=0 acked=0 failed=0
    while [ ! -e "$T/stop" ]; do
        m=${ids[RANDOM % MAILS]}
        r=${rcpts[RANDOM % 8]}
        code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X POST \
            -H "Authorization: Bearer $N" -H 'Content-Type: application/json' \
            --data-binary "{\"mail_id\":\"$m\",\"sender\":\"alice@a.example\",\"recipient\":\"$r\"}" \
            "$TRACKER_URL/v1/reads")
        sent=$((sent + 1))
        if [ "$code" = 200 ]; then
            echo "${m%%.*} $r" >> "$T/ack.$me"
            acked=$((acked + 1))
        else
            failed=$((failed + 1))
        fi
    done
    echo "$sent $acked $failed" > "$T/reader.$me"
}
readers=()
for i in $(seq 1 "$READERS"); do
    : > "$T/ack.$i"
    api_reader "$i" &
    readers+=($!)
    t_defer "kill $! 2>/dev/null"
done
for u in "${imap_users[@]}"; do
    : > "$T/iack.$u"
    /usr/bin/python3 "$here/soak-imap.py" 127.0.0.1 "$DOVECOT_PORT" "$u@a.example" secret \
        "$T/iack.$u" "$T/stop" "$T/ireader.$u" 2>> "$T/imap-readers.log" &
    readers+=($!)
    t_defer "kill $! 2>/dev/null"
done

acks() { cat "$T"/ack.* | wc -l; }
iacks() { cat "$T"/iack.* | wc -l; }
imap_done() { [ "$(ls "$T"/ireader.* 2>/dev/null | wc -l)" -eq "$IMAP_USERS" ]; }
enough() {
    [ $(( $(acks) - base )) -ge 20 ] &&
    { [ $(( $(iacks) - ibase )) -ge 5 ] || imap_done; }
}
start_s=$(date +%s)
restart_ms=()
c=0
for c in $(seq 1 "$CYCLES"); do
    base=$(acks) ibase=$(iacks)
    T_WAIT=60 t_wait enough || { echo "cycle $c: no progress"; break; }
    kill -9 "$TRACKER_PID"
    wait "$TRACKER_PID" 2>/dev/null
    TRACKER_PID=
    t0=$(date +%s%3N)
    tracker_start "$T/ms.conf" || { echo "cycle $c: restart failed"; tail "$T/tracker.log"; exit 1; }
    restart_ms+=($(( $(date +%s%3N) - t0 )))
    printf 'cycle %d: %d API and %d IMAP reads acknowledged so far\n' "$c" "$(acks)" "$(iacks)"
done
# a last stretch of load on the final run, then stop the readers: wait for
# them only (never for the tracker or Dovecot, which keep running), bounded
base=$(acks) ibase=$(iacks)
T_WAIT=60 t_wait enough
touch "$T/stop"
readers_gone() {
    local p
    for p in "${readers[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done
    return 0
}
stragglers=0
if ! T_WAIT=60 t_wait readers_gone; then
    for p in "${readers[@]}"; do
        kill -0 "$p" 2>/dev/null && { stragglers=$((stragglers + 1)); kill "$p" 2>/dev/null; }
    done
    echo "soak: $stragglers reader(s) did not stop within 60 s: killed"
fi
wait "${readers[@]}" 2>/dev/null    # they are gone or killed: returns at once
elapsed=$(( $(date +%s) - start_s ))

# The imap processes spool what is unanswered at logout: let them finish
# (bounded), then replay every spool as mailstate-replay.timer would.
imap_procs() { ps --ppid "$DOVECOT_PID" -o comm= 2>/dev/null | grep -c '^imap$'; }
no_imap() { [ "$(imap_procs)" -eq 0 ]; }
T_WAIT=30 t_wait no_imap || echo "soak: imap processes still running"
spool_files() {     # every file left in the spools: events, claims, set-aside, temp
    local u
    for u in "${imap_users[@]}"; do
        find "$(dovecot_spool "$u")" -maxdepth 1 -type f 2>/dev/null
    done
}
# The timer's case under the soak: the tracker is killed once more, each
# user makes one more read and logs out (spooled), the tracker comes back
# and nobody logs in again: only "doveadm mailstate replay -A" delivers them.
kill -9 "$TRACKER_PID"
wait "$TRACKER_PID" 2>/dev/null
TRACKER_PID=
for u in "${imap_users[@]}"; do
    /usr/bin/python3 "$here/soak-imap.py" 127.0.0.1 "$DOVECOT_PORT" "$u@a.example" secret \
        "$T/iack.$u" "$T/no-stop" "$T/ionce.$u" once 2>> "$T/imap-readers.log"
done
tracker_start "$T/ms.conf" || { echo "final restart failed"; exit 1; }
T_WAIT=30 t_wait no_imap || echo "soak: imap processes still running"
spool_before=$(spool_files | wc -l)
replay_runs=0
while [ "$replay_runs" -lt 5 ]; do
    replay_runs=$((replay_runs + 1))
    doveadm -c "$DOVECOT_DIR/dovecot.conf" mailstate replay -A 2>> "$T/doveadm.log"
    [ "$(spool_files | wc -l)" -eq 0 ] && break
done
spool_left=$(spool_files | wc -l)

# ---- the API reads: every acknowledged pair, with its acknowledgements
cat "$T"/ack.* | sort | uniq -c > "$T/want"
# recorded story lines per (mail, recipient, token)
grep -o 'mail [0-9A-Z]*: rcpt [^:]*: read via [^ ]* from token [a-z]*: recorded' "$T/tracker.log" |
    awk '{ sub(/:$/, "", $2); sub(/:$/, "", $4); sub(/:$/, "", $10); print $2, $4, $10 }' |
    sort | uniq -c > "$T/story"
declare -A got story
# lookup < IDS: the entries of those mails into got[ID ADDR] = "STATUS COUNT"
# (one keep-alive connection: a curl and a jq per mail took minutes)
lookup() {
    local id addr st cnt
    while read -r id addr st cnt; do got["$id $addr"]="$st $cnt"; done < <(
        /usr/bin/python3 -c '
import http.client, json, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
for line in sys.stdin:
    mid = line.strip()
    c.request("GET", "/v1/mails/" + mid, headers={"Authorization": "Bearer " + sys.argv[2]})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        print("mail %s: %d" % (mid, r.status), file=sys.stderr)
        continue
    for e in json.loads(body).get("recipients", []):
        print(mid, e["address"], e.get("status"), e.get("read_count", 0))
' "$TRACKER_URL" "$Q")
}
while read -r n id addr tok; do story["$id $addr $tok"]=$n; done < "$T/story"
missing=0 short=0 pairs=0 nostory=0 api_recorded=0
lookup < <(awk '{ print $2 }' "$T/want" | sort -u)
while read -r n id addr; do
    pairs=$((pairs + 1))
    read -r st have <<<"${got["$id $addr"]:-none 0}"
    api_recorded=$((api_recorded + have))
    if [ "$st" != read ] || [ "$have" -eq 0 ]; then missing=$((missing + 1)); echo "MISSING $id $addr ($st)"
    elif [ "$have" -lt "$n" ]; then short=$((short + 1)); echo "SHORT $id $addr: $have < $n"; fi
    [ "${story["$id $addr notify"]:-0}" -ge "$n" ] ||
        { nostory=$((nostory + 1)); echo "NO STORY LINE $id $addr: ${story["$id $addr notify"]:-0} < $n"; }
done < "$T/want"
sent=0 acked=0 failed=0
for f in "$T"/reader.*; do read -r s a x < "$f"; sent=$((sent + s)); acked=$((acked + a)); failed=$((failed + x)); done

# ---- the IMAP reads: each (mail, user) read once
cat "$T"/iack.* | sort > "$T/iwant"
imap_reads=$(wc -l < "$T/iwant")
imap_pairs=$(sort -u "$T/iwant" | wc -l)
imap_missing=0 imap_dups=0 imap_nostory=0
lookup < <(awk '{ print $1 }' "$T/iwant" | sort -u)
while read -r id addr; do
    read -r st have <<<"${got["$id $addr"]:-none 0}"
    if [ "$st" != read ] || [ "$have" -eq 0 ]; then imap_missing=$((imap_missing + 1)); echo "IMAP MISSING $id $addr ($st)"
    elif [ "$have" -gt 1 ]; then imap_dups=$((imap_dups + 1)); fi
    [ "${story["$id $addr dovecot"]:-0}" -ge 1 ] ||
        { imap_nostory=$((imap_nostory + 1)); echo "IMAP NO STORY LINE $id $addr"; }
done < <(sort -u "$T/iwant")
sessions=0 ierrors=0 exhausted=0
for f in "$T"/ireader.*; do
    [ -f "$f" ] || continue
    read -r _ s e x < "$f"; sessions=$((sessions + s)); ierrors=$((ierrors + e)); exhausted=$((exhausted + x))
done
# The plugin's side (mail_debug is on): every direct post ends recorded,
# spooled or dropped; every spooled one is replayed until answered.
# (doveadm logs to its stderr, the sessions to Dovecot's log)
plugin_log() { cat "$DOVECOT_LOG" "$T/doveadm.log" 2>/dev/null; }
spooled=$(plugin_log | grep -c 'mailstate: tracker unavailable, event spooled to')
# sessions: a debug line per 2xx; doveadm (no debug log): its total per user
plugin_recorded=$(grep -c 'mailstate: tracker recorded' "$DOVECOT_LOG")
dropped=$(plugin_log | grep -c 'mailstate: tracker .*dropped')
by_doveadm=$(grep -o 'mailstate: replay: [0-9]* spooled events answered' "$T/doveadm.log" 2>/dev/null |
    awk '{ s += $3 } END { print s + 0 }')
replayed=$(( plugin_recorded - (imap_reads - spooled - dropped) + by_doveadm ))
once=$(cat "$T"/ionce.* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
replay_claims=$(plugin_log | grep -o 'mailstate: replaying [0-9]* spooled' | awk '{ s += $3 } END { print s + 0 }')

sorted=$(printf '%s\n' "${restart_ms[@]}" | sort -n)
echo "soak: cycles $c of $CYCLES (kill -9 each), API readers $READERS, IMAP users $IMAP_USERS, ${elapsed}s"
echo "soak: API requests $sent, acknowledged $acked, refused/failed while down $failed"
echo "soak: API acknowledged pairs $pairs, missing $missing, count short $short, without story line $nostory; read_count over them $api_recorded (commits not acknowledged: $((api_recorded - acked)))"
echo "soak: IMAP reads $imap_reads (pairs $imap_pairs) in $sessions sessions, session errors $ierrors, users out of mail $exhausted"
echo "soak: plugin spooled $spooled, replayed (answered) $replayed, replay attempts $replay_claims, dropped $dropped, last reads with no login after them $once, final doveadm replay -A runs $replay_runs answering $by_doveadm (spool files before $spool_before, left $spool_left)"
echo "soak: IMAP missing $imap_missing, duplicates (read_count > 1) $imap_dups, without story line $imap_nostory"
echo "soak: restart to healthy (ms): min $(head -1 <<<"$sorted") median $(sed -n "$(( (${#restart_ms[@]} + 1) / 2 ))p" <<<"$sorted") max $(tail -1 <<<"$sorted")"
grep -q 'Panic:\|Fatal:' "$DOVECOT_LOG" && echo "soak: Dovecot logged a panic or fatal error"
tracker_stop
[ "$missing" = 0 ] && [ "$short" = 0 ] && [ "$nostory" = 0 ] && [ "$imap_missing" = 0 ] &&
    [ "$imap_nostory" = 0 ] && [ "$replayed" = "$spooled" ] && [ "$dropped" = 0 ] &&
    [ "$spool_left" = 0 ] && [ "$by_doveadm" -ge "$once" ] && [ "$stragglers" = 0 ] && ! grep -q 'Panic:\|Fatal:' "$DOVECOT_LOG"
