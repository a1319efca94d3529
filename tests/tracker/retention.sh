#!/bin/bash
# Retention: mails older than [system] retention are purged by the running
# tracker; younger ones stay.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init tracker-retention

PORT=$(t_port)
tracker_conf "$T/ms.conf" "$PORT"
sed -i 's/^retention = .*/retention = 1d/' "$T/ms.conf"
OLD=$(seed -s alice@a.example -r bob@a.example -m 3 -a $((3 * 86400))) || t_fail "seed old"
NEW=$(seed -s alice@a.example -r bob@a.example -a 3600) || t_fail "seed new"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
Q=$TRACKER_TOKEN_QUERY

gone() {
    local m
    for m in $OLD; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $Q" \
              "$TRACKER_URL/v1/mails/${m%%.*}")" = 404 ] || return 1
    done
}
t_wait gone && t_ok "3 mails older than the retention are purged" || t_fail "old mails still there"
call GET "/v1/mails/${NEW%%.*}" "$Q"
expect "a mail younger than the retention stays" 200 '.mail_id == "'"${NEW%%.*}"'"'
call GET "/v1/mails?recipient=bob@a.example" "$Q"
expect "the recipient index no longer lists the purged mails" 200 '(.mails | length) == 1'
grep -q "retention: purged 3 mails" "$T/tracker.log" && t_ok "purge logged" || t_fail "no purge log line"
tracker_stop && t_ok "clean stop" || t_fail "stop status"
t_summary
