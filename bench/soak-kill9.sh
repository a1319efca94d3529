#!/bin/bash
# soak-kill9.sh - kill -9 under load, many times (issue 15 item 5).  Not in
# CI: run on demand, it takes minutes.
#
#   TRACKER_BIN=... SEED_BIN=... bench/soak-kill9.sh [CYCLES] [READERS]
#
# One tracker on a private port; MAILS mails with 8 recipients each seeded
# as the milter would.  READERS concurrent API clients post reads of random
# (mail, recipient) pairs in a loop and append every pair the tracker
# acknowledged with 200 to an acknowledgement file (only after the answer).
# Each cycle waits until at least 20 new reads were acknowledged (a
# condition, not a sleep), kills the tracker with SIGKILL mid-load, and
# starts it again (the readers see refused connections meanwhile and go
# on).  At the end the readers stop and every acknowledged pair is looked
# up: its entry must be read and its read_count at least the number of
# acknowledgements (a read killed after its commit but before its answer
# counts without being acknowledged, so counts may exceed acks; never
# fall short).  Prints the figures; exit 1 if any acknowledged read is
# missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/common.sh"
. "$here/../tests/lib/tracker.sh"
. "$here/../tests/tracker/lib.sh"

CYCLES=${1:-50}
READERS=${2:-4}
MAILS=50
: "${TRACKER_BIN:?}" "${SEED_BIN:?}"
t_init soak-kill9

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY
seed -s alice@a.example -r bob@a.example -R 7 -m "$MAILS" > "$T/mails" || exit 1
mapfile -t ids < "$T/mails"
rcpts=(bob@a.example u0@a.example u1@a.example u2@a.example u3@a.example u4@a.example
       u5@a.example u6@a.example)
tracker_start "$T/ms.conf" || exit 1

reader() {      # reader N: post reads until $T/stop exists
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
    reader "$i" &
    readers+=($!)
    t_defer "kill $!"
done

acks() { cat "$T"/ack.* | wc -l; }
start_s=$(date +%s)
restart_ms=()
for c in $(seq 1 "$CYCLES"); do
    base=$(acks)
    enough() { [ $(( $(acks) - base )) -ge 20 ]; }
    t_wait enough || { echo "cycle $c: no progress"; break; }
    kill -9 "$TRACKER_PID"
    wait "$TRACKER_PID" 2>/dev/null
    TRACKER_PID=
    t0=$(date +%s%3N)
    tracker_start "$T/ms.conf" || { echo "cycle $c: restart failed"; tail "$T/tracker.log"; exit 1; }
    restart_ms+=($(( $(date +%s%3N) - t0 )))
    printf 'cycle %d: %d reads acknowledged so far\n' "$c" "$(acks)"
done
# a last stretch of load on the final run, then stop the readers
base=$(acks)
t_wait enough
touch "$T/stop"
wait "${readers[@]}" 2>/dev/null     # not the tracker: it keeps running
elapsed=$(( $(date +%s) - start_s ))

# every acknowledged pair, with how many times it was acknowledged
cat "$T"/ack.* | sort | uniq -c > "$T/want"
missing=0 short=0 pairs=0
declare -A got
for id in $(awk '{ print $2 }' "$T/want" | sort -u); do
    call GET "/v1/mails/$id" "$Q"
    [ "$CODE" = 200 ] || { echo "mail $id: $CODE"; missing=$((missing + 1)); continue; }
    while read -r addr cnt; do got["$id $addr"]=$cnt; done < <(
        jq -r '.recipients[] | "\(.address) \(.read_count // 0)"' <<<"$BODY")
done
while read -r n id addr; do
    pairs=$((pairs + 1))
    have=${got["$id $addr"]:-0}
    if [ "$have" -eq 0 ]; then missing=$((missing + 1)); echo "MISSING $id $addr"
    elif [ "$have" -lt "$n" ]; then short=$((short + 1)); echo "SHORT $id $addr: $have < $n"; fi
done < "$T/want"
sent=0 acked=0 failed=0
for f in "$T"/reader.*; do read -r s a x < "$f"; sent=$((sent + s)); acked=$((acked + a)); failed=$((failed + x)); done
recorded=0
for k in "${!got[@]}"; do recorded=$((recorded + got[$k])); done
sorted=$(printf '%s\n' "${restart_ms[@]}" | sort -n)
echo "soak: cycles $c of $CYCLES (kill -9 each), readers $READERS, ${elapsed}s"
echo "soak: requests $sent, acknowledged $acked, failed/refused while down $failed"
echo "soak: read_count total over all entries $recorded (>= acknowledged: $([ "$recorded" -ge "$acked" ] && echo yes || echo NO))"
echo "soak: acknowledged pairs $pairs, missing $missing, count short $short"
echo "soak: restart to healthy (ms): min $(head -1 <<<"$sorted") median $(sed -n "$(( (${#restart_ms[@]} + 1) / 2 ))p" <<<"$sorted") max $(tail -1 <<<"$sorted")"
tracker_stop
[ "$missing" = 0 ] && [ "$short" = 0 ]
