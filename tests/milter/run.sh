#!/bin/bash
# run.sh SCRIPT.lua - one protocol test: start the real mailstate-milter with
# the standard test config (tests/lib/milter.sh) on a private unix socket,
# drive it with Debian's miltertest running SCRIPT.lua, then stop it with
# SIGTERM and require a clean exit.
#
# Lines "--@ SHELL CODE" in the script run here before the config is written,
# to vary it: MILTER_ON_ERROR=tempfail, STORE_DIR=..., EXTRA_INI=...
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"

script=$1
name=$(basename "$script" .lua)
t_init "milter-$name"
MILTER_BIN=${MILTER_BIN:?MILTER_BIN not set}
TOOL=${MS_TESTTOOL:?MS_TESTTOOL not set}
STORE_DIR=$T/store
EXTRA_INI=
eval "$(sed -n 's/^--@ //p' "$script")"

milter_conf "$T/milter.conf" "unix:$T/milter.sock" "$STORE_DIR" "$EXTRA_INI"
milter_start "$T/milter.conf" || { t_fail "$name: milter did not start"; t_summary; exit 1; }

if miltertest -s "$script" -D SOCK="unix:$T/milter.sock" -D TOOL="$TOOL" \
       -D STORE="$STORE_DIR" -D KEY="$T/system.key" -D MLOG="$T/milter.log" \
       -D MPID="$MILTER_PID" -D LIB="$here/lib.lua" -D CONF="$T/milter.conf"; then
    t_ok "$name: miltertest script"
else
    t_fail "$name: miltertest script"
fi
if milter_stop; then
    t_ok "$name: milter exited cleanly on SIGTERM"
else
    t_fail "$name: milter exit status"
fi
if grep -q 'Sanitizer' "$T/milter.log"; then
    t_fail "$name: sanitizer report in the milter log"
fi
[ "$T_FAIL" -eq 0 ] || { echo "--- milter log:"; cat "$T/milter.log"; }
t_summary
