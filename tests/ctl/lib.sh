# lib.sh - helpers of mailstatectl's tests (sourced after common.sh and
# tracker.sh).
#
#   ctl_setup [EXTRA_INI]  config $T/ms.conf (tracker_conf: mx1 hosts
#                          a.example b.example, peer mx2 hosts c.example,
#                          store $T/store) plus a [milter] section
#   ctl ARGS...            run mailstatectl -c $T/ms.conf; sets RC, OUT
#                          (stdout) and ERR (stderr); never fails the script
#   seed ARGS...           record mails in $T/store (tracker-seed), prints ID.TAG
#   cseed ARGS...          ctl-seed $T/store ARGS (outbox / parked items)
#   snapshot               prints a digest of everything the mail log holds
#                          (mailstatectl list --json + outbox list --json)

ctl_setup() {
    PORT=$(t_port)
    tracker_conf "$T/ms.conf" "$PORT" "[milter]
socket = unix:$T/milter.sock
socket_mode = 0666
${1:-}"
    mkdir -p "$T/store"
}

ctl() {
    RC=0
    "$CTL_BIN" -c "$T/ms.conf" "$@" > "$T/ctl.out" 2> "$T/ctl.err" || RC=$?
    OUT=$(cat "$T/ctl.out")
    ERR=$(cat "$T/ctl.err")
    [ -z "${T_DEBUG:-}" ] || printf 'ctl %s -> %s\n%s\n%s\n' "$*" "$RC" "$OUT" "$ERR" >&2
    return 0
}

# t_rc MSG WANT: the last ctl exited WANT
t_rc() {
    if [ "$RC" = "$2" ]; then t_ok "$1"; else t_fail "$1: exit $RC, want $2; stderr: $ERR"; fi
}

seed() {
    "$SEED_BIN" -d "$T/store" -k "$T/system.key" "$@"
}

cseed() {
    "$CTL_SEED_BIN" "$T/store" "$@"
}

snapshot() {
    "$CTL_BIN" -c "$T/ms.conf" list --json --limit 1000000 2>/dev/null | sha256sum
    "$CTL_BIN" -c "$T/ms.conf" outbox list --json 2>/dev/null | sha256sum
}
