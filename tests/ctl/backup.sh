#!/bin/bash
# mailstatectl backup: a compacted copy that opens as a mail log with the
# same content; refuses a directory that already holds one.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-backup
ctl_setup

seed -s alice@a.example -r bob@a.example -R 20 -m 200 -a 86400 > /dev/null || t_fail "seed"
ctl purge --older-than 1h > /dev/null   # leaves free pages: compaction has work
seed -s alice@a.example -r bob@a.example -R 3 -m 20 > /dev/null || t_fail "seed after"
ctl list --json --limit 1000000
ORIG=$OUT
ctl backup "$T/bk"
t_rc "backup" 0
t_check "data.mdb written" test -s "$T/bk/data.mdb"
t_check "compacted: smaller than the original" \
    test "$(stat -c %s "$T/bk/data.mdb")" -lt "$(stat -c %s "$T/store/data.mdb")"
sed "s|^path = .*|path = $T/bk|" "$T/ms.conf" > "$T/bk.conf"
chmod 600 "$T/bk.conf"   # it holds inline token secrets
"$CTL_BIN" -c "$T/bk.conf" list --json --limit 1000000 > "$T/bk.list" || t_fail "list the copy"
t_check "the copy holds the same 20 mails" test "$ORIG" = "$(cat "$T/bk.list")"
t_check "20 lines" test "$(wc -l < "$T/bk.list")" = 20

# bad inputs
SUM=$(sha256sum < "$T/bk/data.mdb")
ctl backup "$T/bk"
t_rc "a directory with a data.mdb: refused, exit 6" 6
t_check "existing copy unchanged" test "$SUM" = "$(sha256sum < "$T/bk/data.mdb")"
: > "$T/afile"
ctl backup "$T/afile"
t_rc "a file, not a directory: exit 6" 6
ctl backup
t_rc "no directory: exit 2" 2
t_summary
