#!/bin/bash
# mailstatectl status: figures of an empty and of a filled mail log, the
# outbox per peer, and a missing store directory (a typo in [store] path
# must not create a new, empty mail log).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-status
ctl_setup

seed -s alice@a.example -r bob@a.example -r dave@a.example -m 3 > /dev/null || t_fail "seed"
ctl status --json
t_rc "status on a filled mail log" 0
t_check "3 mails, 6 entries" jq -e '.mails == 3 and .entries == 6' <<<"$OUT"
t_check "no outbox, nothing parked, no erasure, peer mx2 listed" \
    jq -e '.outbox == 0 and .parked == 0 and .peers == [{"peer":"mx2","outbox":0,"oldest":null,"parked":0,"erasures":0,"erasure_oldest":null}]' <<<"$OUT"
t_check "use against map_size_max, retention 30 d" \
    jq -e '.map_size_max > 0 and .used > 0 and .used <= .map_size_max and .retention_s == 2592000 and .last_purge == null' <<<"$OUT"

# a read of a mail from a c.example sender (home server mx2) is queued for mx2
ID=$(seed -s carol@c.example -r bob@a.example) || t_fail "seed peer mail"
cseed read "${ID%%.*}" bob@a.example mx2 || t_fail "queue a read for mx2"
ID2=$(seed -s erin@c.example -r dave@a.example) || t_fail "seed peer mail 2"
cseed read "${ID2%%.*}" dave@a.example mx2 || t_fail "queue a second read"
cseed park mx2 || t_fail "park"
cseed read "${ID%%.*}" bob@a.example mx2 || t_fail "queue a read again"
ctl status --json
t_check "mx2: 1 waiting with its time, 2 parked" \
    jq -e '.outbox == 1 and .parked == 2 and .peers[0].outbox == 1 and .peers[0].parked == 2 and (.peers[0].oldest | test("^20[0-9-]+T"))' <<<"$OUT"
ctl status
t_rc "status for people" 0
t_check "table names the peer and the counts" grep -Eq "peer mx2 +1 waiting .* 2 parked" "$T/ctl.out"
t_check "table shows mails and entries" grep -Eq "^mails +5$" "$T/ctl.out"

# bad input: a store path that does not exist
sed -i "s|^path = .*|path = $T/nostore|" "$T/ms.conf"
ctl status
t_rc "missing store directory: exit 1" 1
t_check "it is named" grep -q "no mail log at $T/nostore" "$T/ctl.err"
t_check "and not created" test ! -e "$T/nostore"
# bad input: an unknown option and extra arguments
ctl status --bogus
t_rc "unknown option: exit 2" 2
ctl status extra
t_rc "extra argument: exit 2" 2
t_summary
