#!/bin/bash
# Durability: kill -9 during a burst of writes, restart: every read that was
# acknowledged (200) is in the mail log and the database opens.  Then the
# same with SIGTERM: in-flight writes finish, exit status 0.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-crash

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -R 1600) || t_fail "seed"
ID=${M%%.*}
N=$TRACKER_TOKEN_NOTIFY Q=$TRACKER_TOKEN_QUERY

# writer K STEP FIRST END: post reads of uFIRST, uFIRST+STEP, ... < uEND, appending each
# acknowledged recipient to $T/acked.K; stops at the first failure.
writer() {
    local k=$1 i=$3 end=$4 code
    while [ "$i" -lt "$end" ]; do
        code=$(printf '{"mail_id":"%s","sender":"alice@a.example","recipient":"u%d@a.example"}' "$M" "$i" |
               curl -s -o "$T/resp.$k" -w '%{http_code}' --max-time 20 \
                    -H "Authorization: Bearer $N" -H 'Content-Type: application/json' \
                    --data-binary @- "$TRACKER_URL/v1/reads")
        [ "$code" = 200 ] || break
        grep -q '"recorded":true' "$T/resp.$k" || break
        echo "u$i@a.example" >> "$T/acked.$k"
        i=$((i + $2))
    done
}

acked_count() { cat "$T"/acked.* 2>/dev/null | wc -l; }
enough_acked() { [ "$(acked_count)" -ge 150 ]; }

for round in kill term; do
    rm -f "$T"/acked.*
    tracker_start "$T/ms.conf" || { t_fail "$round: tracker starts"; break; }
    base=$([ $round = kill ] && echo 0 || echo 800)
    pids=()
    for k in $(seq 0 7); do
        writer "$k" 8 $((base + k)) $((base + 800)) &
        pids+=($!)
    done
    t_wait enough_acked || t_fail "$round: writes do not get through"
    if [ $round = kill ]; then
        tracker_kill
    else
        tracker_stop && t_ok "SIGTERM during a burst: exit status 0" || t_fail "SIGTERM exit status"
    fi
    wait "${pids[@]}"
    n=$(acked_count)

    # Restart on the same store: it must open, and hold every acknowledged read.
    tracker_start "$T/ms.conf" && t_ok "$round: restart after $n acknowledged reads, store opens" ||
        { t_fail "$round: restart"; break; }
    call GET "/v1/mails/$ID" "$Q"
    [ "$CODE" = 200 ] || t_fail "$round: GET after restart: $CODE"
    jq -r '.recipients[] | select(.status == "read") | .address' <<<"$BODY" | sort > "$T/read"
    sort "$T"/acked.* > "$T/acked"
    missing=$(comm -23 "$T/acked" "$T/read" | wc -l)
    [ "$missing" = 0 ] && t_ok "$round: all $n acknowledged reads present" ||
        t_fail "$round: $missing of $n acknowledged reads lost: $(comm -23 "$T/acked" "$T/read" | head -3)"
    # Reads in flight at the kill may have committed without their answer:
    # allowed; nothing else may appear.
    extra=$(comm -13 "$T/acked" "$T/read" | grep -vc "^u" || true)
    [ "$extra" = 0 ] || t_fail "$round: unexpected read entries"
    tracker_stop || t_fail "$round: stop after the check"
done
if command -v mdb_stat >/dev/null; then
    mdb_stat -a "$T/store" > "$T/mdb_stat" 2>&1 && t_ok "mdb_stat reads the database" ||
        t_fail "mdb_stat: $(head -3 "$T/mdb_stat")"
fi
t_summary
