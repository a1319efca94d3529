#!/bin/bash
# mailstatectl beside a running tracker and milter on the same mail log:
# reads see what the tracker wrote, writes (erase, outbox drop) are seen
# by the tracker at once, and both daemons stay up and keep writing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/../lib/milter.sh"
. "$(dirname "$0")/../tracker/lib.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-running
ctl_setup

A=$(seed -s alice@a.example -r bob@a.example -r dave@a.example) || t_fail "seed"
C=$(seed -s carol@c.example -r bob@a.example) || t_fail "seed peer mail"
tracker_start "$T/ms.conf" || { t_fail "tracker starts"; t_summary; exit 1; }
milter_start "$T/ms.conf" || t_fail "milter starts"

call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$A" alice@a.example bob@a.example)"
expect "a read through the tracker" 200
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$C" carol@c.example bob@a.example)"
expect "a read of a peer's mail (queued for mx2, which is down)" 200

ctl show --json "${A%%.*}"
t_rc "show while both run" 0
t_check "sees the tracker's read" \
    jq -e '.recipients[] | select(.address == "bob@a.example") | .status == "read" and .read_count == 1' <<<"$OUT"
ctl status --json
t_check "status while both run: 2 mails, mx2's item waiting" \
    jq -e '.mails == 2 and .peers[0].outbox == 1' <<<"$OUT"
ctl list --json --status read
t_check "list while both run" jq -se 'length == 2' <<<"$OUT"
ctl check
t_check "check sees the running milter" grep -q "a milter answers" "$T/ctl.out"

ctl outbox list --json
ITEM=$(jq -r '.item' <<<"$OUT")
ctl outbox drop "$ITEM"
t_rc "outbox drop while the forwarder retries" 0
ctl erase --yes dave@a.example
t_rc "erase while both run" 0
call GET "/v1/mails/${A%%.*}" "$TRACKER_TOKEN_QUERY"
expect "the tracker no longer has dave's entry" 200 '[.recipients[].address] == ["bob@a.example"]'
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$A" alice@a.example dave@a.example)"
expect "a read of the erased entry is refused" 404
ctl status --json
t_check "the forwarder did not resurrect the dropped item" jq -e '.outbox == 0' <<<"$OUT"

# the daemons keep working after mailstatectl wrote
call POST /v1/reads "$TRACKER_TOKEN_NOTIFY" "$(read_body "$A" alice@a.example bob@a.example)"
expect "the tracker still writes" 200 '.recipient.read_count == 2'
t_check "milter still answers" milter_accepts "$MILTER_SOCKET"
tracker_stop && t_ok "tracker stops cleanly" || t_fail "tracker stop status"
milter_stop && t_ok "milter stops cleanly" || t_fail "milter stop status"
t_summary
