#!/bin/bash
# SIGHUP: a new token and a new opt-out apply to the next requests without a
# restart; a config with errors is refused and the running one stays.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-reload

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
M=$(seed -s alice@a.example -r bob@a.example -r dave@a.example) || t_fail "seed"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
NEW=rotated-token-0123456789abcdef

call POST /v1/reads "$NEW" "$(read_body "$M" alice@a.example bob@a.example)"
expect "a token not yet configured: 401" 401

# Add the token, make dave opt out; reload.
cat >> "$T/ms.conf" <<EOF_CONF

[token rotated]
secret = $NEW
scopes = notify
EOF_CONF
sed -i 's/^opt_out = .*/opt_out = carol@a.example dave@a.example/' "$T/ms.conf"
kill -HUP "$TRACKER_PID"
t_wait grep -q "reload: .* loaded" "$T/tracker.log" || t_fail "no reload logged"
call POST /v1/reads "$NEW" "$(read_body "$M" alice@a.example bob@a.example)"
expect "after SIGHUP the new token works" 200 '.recorded == true'
call POST /v1/reads "$NEW" "$(read_body "$M" alice@a.example dave@a.example)"
expect "after SIGHUP the new opt-out applies" 200 '.recorded == false and .reason == "opt_out"'
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$M" alice@a.example bob@a.example)"
expect "the old tokens still work" 200

# A broken config: refused, the running one stays.
cp "$T/ms.conf" "$T/good.conf"
printf '\n[tracker]\nlisten = nonsense\nbogus_key = 1\n' >> "$T/ms.conf"
kill -HUP "$TRACKER_PID"
t_wait grep -q "keeping the running config" "$T/tracker.log" &&
    t_ok "a config with errors is refused, with its file and line logged" || t_fail "no refusal logged"
grep -q "reload: $T/ms.conf:[0-9]*:" "$T/tracker.log" && t_ok "the error names file and line" ||
    t_fail "error without file:line: $(grep reload "$T/tracker.log")"
call POST /v1/reads "$NEW" "$(read_body "$M" alice@a.example bob@a.example)"
expect "still serving with the last good config" 200 '.recorded == true'
kill -0 "$TRACKER_PID" && t_ok "daemon alive after the bad reload" || t_fail "daemon died"

# A change that needs a restart is named.
cp "$T/good.conf" "$T/ms.conf"
sed -i "s/^listen = .*/listen = 127.0.0.1:$(t_port)/" "$T/ms.conf"
kill -HUP "$TRACKER_PID"
t_wait grep -q "take effect at the next restart" "$T/tracker.log" &&
    t_ok "a new listen address is reported as needing a restart" || t_fail "no restart warning"
call GET /healthz ""
expect "still on the old port" 200
tracker_stop && t_ok "clean stop" || t_fail "stop status"
t_summary
