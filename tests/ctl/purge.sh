#!/bin/bash
# mailstatectl purge: removes mails older than --older-than (default the
# retention), records the purge for status; bad durations change nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-purge
ctl_setup

seed -s alice@a.example -r bob@a.example -m 5 -a $((40 * 86400)) > /dev/null || t_fail "seed 40 d"
seed -s alice@a.example -r bob@a.example -m 3 -a $((3 * 86400)) > /dev/null || t_fail "seed 3 d"
seed -s alice@a.example -r bob@a.example -m 2 > /dev/null || t_fail "seed now"
BEFORE=$(snapshot)

ctl purge --older-than 1x
t_rc "bad duration: exit 2" 2
ctl purge --older-than 0
t_rc "zero duration: exit 2" 2
ctl purge extra
t_rc "extra argument: exit 2" 2
t_check "nothing changed" test "$BEFORE" = "$(snapshot)"

ctl purge
t_rc "purge by the retention (30 d)" 0
t_check "5 mails purged" grep -q "purged 5 mails" "$T/ctl.out"
ctl status --json
t_check "5 left, last purge recorded with 5 mails" \
    jq -e '.mails == 5 and (.last_purge | test("^20")) and .last_purge_mails == 5' <<<"$OUT"
ctl purge --json --older-than 2d
t_check "--older-than 2d: 3 more" jq -e '.purged == 3' <<<"$OUT"
ctl list --json
t_check "the 2 young mails stay" jq -se 'length == 2' <<<"$OUT"
t_summary
