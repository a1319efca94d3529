#!/bin/bash
# SIGHUP applies [webhook] changes (issue 17) to the real tracker: a section
# added by a reload starts delivering (from the oldest event), a changed url
# moves deliveries to the new receiver without resending what the old one
# accepted (the position is kept by name), a config with a bad webhook is
# refused and the running one keeps delivering, a removed section stops, and
# re-adding the name resumes where it stopped.  Receivers: hookrx.py.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-webhook-reload

PORT=$(t_port) RPORT=$(t_port) RPORT2=$(t_port)
printf 'whsec-0123456789abcdef-test\n' > "$T/hook.secret"
chmod 600 "$T/hook.secret"
BASE="
[events]
webhook_backoff_max = 2s"
hook_section() {    # NAME PORT [EVENTS]
    printf '\n[webhook %s]\nurl = http://127.0.0.1:%s/hook\nsecret_file = %s\nevents = %s\n' \
        "$1" "$2" "$T/hook.secret" "${3:-read deleted_unread}"
}
tracker_conf "$T/ms.conf" "$PORT" "$BASE"
N=$TRACKER_TOKEN_NOTIFY

RX_PIDS=()
rx_start() {        # PORT LOG
    /usr/bin/python3 "$(dirname "$0")/hookrx.py" "$1" "$T/hook.secret" "$2" "$T/plan" \
        >> "$T/rx.err" 2>&1 &
    RX_PIDS+=($!)
    t_wait t_port_open "$1"
}
rx_stop_all() {
    local p
    for p in "${RX_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    RX_PIDS=()
}
t_defer rx_stop_all
metric() {
    tracker_curl "$TRACKER_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
# every seq a receiver accepted (2xx), in arrival order
accepted() { [ -f "$1" ] && jq -s -c '[.[] | select(.code < 300) | .seqs[]]' "$1" || echo '[]'; }
accepted_is() { [ "$(accepted "$1")" = "$2" ]; }
reloads() { grep -c "reload: .* loaded" "$T/tracker.log"; }
hup() {             # send SIGHUP, wait until the reload is logged
    local before
    before=$(reloads)
    kill -HUP "$TRACKER_PID"
    t_wait eval '[ "$(reloads)" -gt '"$before"' ]'
}

M1=$(seed -s alice@a.example -r bob@a.example -r dave@a.example -r gus@a.example \
          -r eve@a.example -r fay@a.example) ||
    t_fail "seed M1"
rx_start "$RPORT" "$T/rx1.log" || t_fail "receiver 1 starts"
rx_start "$RPORT2" "$T/rx2.log" || t_fail "receiver 2 starts"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }

call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example)"
expect "bob reads before any webhook (event 1)" 200 '.recorded == true'
[ -z "$(metric 'mailstate_webhook_backlog{webhook="rx"}')" ] &&
    t_ok "no webhook metrics before one is configured" || t_fail "metrics before"

# --- added by SIGHUP: starts at the oldest kept event -----------------------
hook_section rx "$RPORT" >> "$T/ms.conf"
hup && t_ok "reload with [webhook rx] added" || t_fail "no reload logged"
grep -q "webhook rx: posting events to http://127.0.0.1:$RPORT/hook" "$T/tracker.log" &&
    t_ok "the new webhook's start is logged" || t_fail "log: $(grep webhook "$T/tracker.log")"
t_wait accepted_is "$T/rx1.log" '[1]' && t_ok "the added webhook delivers event 1" ||
    t_fail "rx1: $(accepted "$T/rx1.log")"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example dave@a.example)"
t_wait accepted_is "$T/rx1.log" '[1,2]' && t_ok "and the next event (2) at once" ||
    t_fail "rx1: $(accepted "$T/rx1.log")"
jq -s -e 'all(.[]; .sig_ok and .webhook == "rx")' "$T/rx1.log" >/dev/null &&
    t_ok "signed with the secret of the added section" || t_fail "signatures: $(cat "$T/rx1.log")"

# --- an unchanged reload leaves it running; counters go on ------------------
hup || t_fail "plain reload"
! grep -q "webhook rx: changed" "$T/tracker.log" && t_ok "a reload without changes restarts nothing" ||
    t_fail "restarted without a change"

# --- url changed: deliveries move, the position is kept ----------------------
sed -i "s|^url = http://127.0.0.1:$RPORT/hook|url = http://127.0.0.1:$RPORT2/hook|" "$T/ms.conf"
hup || t_fail "reload with a new url"
grep -q "webhook rx: changed; posting events to http://127.0.0.1:$RPORT2/hook" "$T/tracker.log" &&
    t_ok "the change is logged" || t_fail "log: $(grep webhook "$T/tracker.log")"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example gus@a.example)"
t_wait accepted_is "$T/rx2.log" '[3]' &&
    t_ok "event 3 goes to the new url, and 1..2 are not resent (position kept)" ||
    t_fail "rx2: $(accepted "$T/rx2.log")"
accepted_is "$T/rx1.log" '[1,2]' && t_ok "the old url gets nothing more" ||
    t_fail "rx1: $(accepted "$T/rx1.log")"
[ "$(metric 'mailstate_webhook_delivered_total{webhook="rx"}')" = 3 ] &&
    t_ok "delivered_total carries over the change (3)" ||
    t_fail "delivered: $(metric 'mailstate_webhook_delivered_total{webhook="rx"}')"

# --- events changed: the filter applies at once ------------------------------
sed -i "s|^events = read deleted_unread|events = received|" "$T/ms.conf"
hup || t_fail "reload with a new filter"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example bob@a.example)"
expect "bob reads again (event 4, not wanted now)" 200 '.recorded == true'
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example eve@a.example '{event: "received"}')"
expect "eve's delivery (event 5)" 200 '.recorded == true'
t_wait accepted_is "$T/rx2.log" '[3,5]' &&
    t_ok "with events = received only the received event (5) is sent" ||
    t_fail "rx2: $(accepted "$T/rx2.log")"

# --- a bad webhook section: the whole reload is refused ----------------------
cp "$T/ms.conf" "$T/good.conf"
cp "$T/hook.secret" "$T/open.secret" && chmod 644 "$T/open.secret"
printf '\n[webhook bad]\nurl = http://127.0.0.1:%s/hook\nsecret_file = %s\n' "$RPORT" \
    "$T/open.secret" >> "$T/ms.conf"
kill -HUP "$TRACKER_PID"
t_wait grep -q "keeping the running config" "$T/tracker.log" &&
    t_ok "a config with a world-readable webhook secret is refused" || t_fail "no refusal logged"
call POST /v1/reads "$N" "$(read_body "$M1" alice@a.example fay@a.example '{event: "received"}')"
expect "fay's delivery (event 6)" 200 '.recorded == true'
t_wait accepted_is "$T/rx2.log" '[3,5,6]' && t_ok "the running webhook keeps delivering (6)" ||
    t_fail "rx2: $(accepted "$T/rx2.log")"
grep -q "webhook bad: posting" "$T/tracker.log" && t_fail "the bad webhook was started" ||
    t_ok "the bad webhook is not started"
accepted_is "$T/rx1.log" '[1,2]' && t_ok "and nothing reached its url" ||
    t_fail "rx1: $(accepted "$T/rx1.log")"

# --- removed: deliveries stop -------------------------------------------------
awk '/^\[webhook rx\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' "$T/good.conf" > "$T/ms.conf"
chmod 600 "$T/ms.conf"
hup || t_fail "reload without the section"
grep -q "webhook rx: no longer in the config; stopped" "$T/tracker.log" &&
    t_ok "the removal is logged" || t_fail "log: $(grep webhook "$T/tracker.log")"
[ -z "$(metric 'mailstate_webhook_backlog{webhook="rx"}')" ] &&
    t_ok "its metrics are gone" || t_fail "metrics after removal"
# a received event the removed webhook would have sent (event 7)
M2=$(seed -s alice@a.example -r bob@a.example) || t_fail "seed M2"
call POST /v1/reads "$N" "$(read_body "$M2" alice@a.example bob@a.example '{event: "received"}')"
expect "bob's delivery of M2 after the removal" 200 '.recorded == true'
sleep 3         # the old backoff is 2 s: long enough for a stray delivery
N2=$(jq -s 'length' "$T/rx2.log")
accepted_is "$T/rx2.log" '[3,5,6]' && t_ok "nothing is delivered after the removal" ||
    t_fail "rx2 after removal: $(accepted "$T/rx2.log")"

# --- re-added under the same name: resumes at its position -------------------
cp "$T/good.conf" "$T/ms.conf"
hup || t_fail "reload with the section back"
t_wait eval '[ "$(jq -s length "$T/rx2.log")" -gt '"$N2"' ]' || t_fail "no delivery after re-adding"
t_wait accepted_is "$T/rx2.log" '[3,5,6,7]' &&
    t_ok "re-added, it resumes: only the received events since (7) arrive" ||
    t_fail "rx2: $(accepted "$T/rx2.log")"
jq -s -e 'all(.[]; .sig_ok)' "$T/rx2.log" >/dev/null && t_ok "every POST's signature verified" ||
    t_fail "a bad signature"

tracker_stop && t_ok "clean stop" || t_fail "stop status"
t_summary
