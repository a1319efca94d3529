#!/bin/bash
# mailstatectl keygen: a 32-byte key, mode 600, that conf accepts; never
# overwrites a file and never writes through a link.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-keygen
ctl_setup

ctl keygen "$T/new.key"
t_rc "keygen" 0
t_check "32 bytes" test "$(stat -c %s "$T/new.key")" = 32
t_check "mode 600" test "$(stat -c %a "$T/new.key")" = 600
ctl keygen "$T/other.key"
t_check "two keys differ" bash -c "! cmp -s '$T/new.key' '$T/other.key'"
sed -i "s|^key_file = .*|key_file = $T/new.key|" "$T/ms.conf"
ctl check
t_check "the config accepts the new key" grep -q "configuration ok" "$T/ctl.out"

# bad inputs: an existing file, a symlink to a file elsewhere, no name
SUM=$(sha256sum < "$T/new.key")
ctl keygen "$T/new.key"
t_rc "existing key: refused, exit 6" 6
t_check "key unchanged" test "$SUM" = "$(sha256sum < "$T/new.key")"
echo precious > "$T/target"
ln -s "$T/target" "$T/link.key"
ctl keygen "$T/link.key"
t_rc "symlink: refused, exit 6" 6
t_check "link target unchanged" grep -qx precious "$T/target"
ctl keygen "$T/no/such/dir/k"
t_rc "missing directory: exit 1" 1
ctl keygen
t_rc "no file: exit 2" 2
t_summary
