#!/bin/bash
# mailstatectl check: a good config; config errors with FILE:LINE; a key
# others can read; a key and a store the daemons' user cannot use; the
# milter socket as the postfix user sees it (mode, directory, a running
# milter).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/tracker.sh"
. "$(dirname "$0")/../lib/milter.sh"
. "$(dirname "$0")/lib.sh"
t_init ctl-check
ctl_setup
chmod 755 "$T" "$T/store"
cp "$T/ms.conf" "$T/good.conf"

ctl check
t_rc "a good config: exit 0" 0
t_check "ok for both daemons" grep -q "configuration ok (milter and tracker)" "$T/ctl.out"
if id postfix >/dev/null 2>&1; then
    t_check "the socket to be will be writable by postfix" grep -q "will be writable by postfix" "$T/ctl.out"
fi

# bad input: an unknown key -> FILE:LINE as -n prints it
sed -i 's/^retention = 30d/retention = 30d\nbogus_key = 1/' "$T/ms.conf"
ctl check
t_rc "unknown key: exit 4" 4
t_check "FILE:LINE named" grep -q "ms.conf:6:" "$T/ctl.err"
cp "$T/good.conf" "$T/ms.conf"

# bad input: a key file others can read
chmod 644 "$T/system.key"
ctl check
t_rc "world-readable key: exit 4" 4
t_check "says chmod 600" grep -q "chmod 600" "$T/ctl.err"
chmod 600 "$T/system.key"

# bad input: the daemons run as nobody, key and store are root's
sed -i "s|^\[milter\]|[milter]\nuser = nobody|; s|^\[tracker\]|[tracker]\nuser = nobody|" "$T/ms.conf"
chmod 700 "$T/store"
ctl check --json
t_rc "daemon user cannot read the key: exit 4" 4
t_check "key and store named as problems" \
    jq -e '.problems == 2 and ([.findings[] | select(.kind == "problem") | .text] | (any(test("key file .* cannot read")) and any(test("cannot write"))))' <<<"$OUT"
chown nobody "$T/system.key" "$T/store"
ctl check
t_rc "owned by the daemons' user: exit 0" 0
chown root "$T/system.key" "$T/store"
cp "$T/good.conf" "$T/ms.conf"

if id postfix >/dev/null 2>&1; then
    # bad input: socket mode 0600 (root's milter, postfix not allowed)
    sed -i 's/^socket_mode = 0666/socket_mode = 0600/' "$T/ms.conf"
    ctl check
    t_rc "socket_mode 0600: exit 4" 4
    t_check "not writable by postfix" grep -q "will not be writable by postfix" "$T/ctl.out"
    cp "$T/good.conf" "$T/ms.conf"

    # bad input: the socket in a directory postfix cannot search
    mkdir -m 700 "$T/private"
    sed -i "s|^socket = .*|socket = unix:$T/private/m.sock|" "$T/ms.conf"
    ctl check
    t_rc "unsearchable socket directory: exit 4" 4
    t_check "directory named" grep -q "cannot search $T/private" "$T/ctl.out"
    cp "$T/good.conf" "$T/ms.conf"

    # a running milter on the socket
    milter_start "$T/ms.conf" || t_fail "milter starts"
    ctl check
    t_rc "running milter: exit 0" 0
    t_check "reachable and answering" grep -q "reachable by postfix, a milter answers" "$T/ctl.out"
    milter_stop
    chmod 600 "$T/milter.sock" 2>/dev/null
    if [ -S "$T/milter.sock" ]; then
        ctl check
        t_rc "stale socket postfix cannot write: exit 4" 4
    fi
else
    t_log "no postfix user: socket checks skipped"
fi
t_summary
