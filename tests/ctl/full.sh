#!/bin/bash
# mailstatectl on a full mail log (map at map_size_max = 4 MiB): status
# shows it; erase (also of an address with an entry in every mail),
# outbox drop, purge and backup still work (they may use the store's
# reserve), and inserts work again after the purge.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-full
ctl_setup
sed -i 's|^\[store\]|[store]\nmap_size = 1M\nmap_size_max = 4M|' "$T/ms.conf"

ID=$(seed -M 1 -s carol@c.example -r bob@a.example) || t_fail "seed peer mail"
cseed read "${ID%%.*}" bob@a.example mx2 || t_fail "queue"
# 11 recipients a mail, 10 mails a transaction (schema 5 keeps ~6 mails'
# entries on one page, so u7's entries are on every page of rcpts)
seed -M 1 -s alice@a.example -r bob@a.example -R 10 -m 100000 -a 86400 -B 10 > "$T/ids" 2> "$T/seed.err"
t_check "the seeder ran into the limit" grep -q "mail log full" "$T/seed.err"
N=$(wc -l < "$T/ids")
t_log "$N mails fill 4 MiB"

ctl status --json
t_rc "status of a full store" 0
t_check "use near the limit (>= 85%), map at 4 MiB" \
    jq -e '.used_percent >= 85 and .map_size_max == 4194304' <<<"$OUT"
ctl outbox drop 1
t_rc "outbox drop on a full store" 0
ctl erase --yes dave@a.example
t_rc "erase of an address with no entry: exit 3, not a store error" 3
ctl erase --yes carol@c.example
t_rc "erase on a full store (one mail)" 0
t_check "1 entry erased" grep -q "erased 1 entries of carol@c.example" "$T/ctl.out"
# An erasure touching more pages than the store's reserve (one entry in
# each of the thousands of mails: a single transaction failed with exit 5 here
# before erasure ran in batches) works on the full store, in bounded
# transactions, and touches no other recipient's entries.
ctl export --json u8@a.example
U8=$(printf '%s\n' "$OUT" | sha256sum)
ctl erase --yes u7@a.example
t_rc "erase of $N entries on a full store" 0
t_check "all $N entries of u7 erased" grep -q "erased $N entries of u7@a.example" "$T/ctl.out"
ctl export u7@a.example
t_rc "nothing of u7 left" 3
ctl export --json u8@a.example
t_check "u8's $N entries untouched" test "$U8" = "$(printf '%s\n' "$OUT" | sha256sum)"
ctl backup "$T/bk"
t_rc "backup of a full store" 0
ctl purge --older-than 1h
t_rc "purge on a full store" 0
t_check "every seeded mail purged" grep -q "purged $N mails" "$T/ctl.out"
seed -M 1 -s alice@a.example -r bob@a.example > /dev/null
t_check "inserts work again after the purge" test $? = 0
ctl status --json
t_check "1 mail left (the new one), no outbox item" jq -e '.mails == 1 and .outbox == 0' <<<"$OUT"
t_summary
