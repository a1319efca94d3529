# common.sh - shared helpers for mailstate's black-box shell tests.
# Source it from bash: . "$(dirname "$0")/../lib/common.sh"   (contract: README.md)
#
#   t_init NAME         private directory $T (mode 0755, so MTA users can reach
#                       it), EXIT/INT/TERM trap that runs every t_defer'd command
#   t_defer CMD...      run CMD at exit, last registered first (process cleanup)
#   t_port              a free TCP port on 127.0.0.1 (asked from the kernel)
#   t_wait CMD...       poll CMD until it succeeds, up to $T_WAIT seconds (20)
#   t_ok MSG / t_fail MSG / t_check MSG CMD... / t_summary
#   t_key FILE          32 random bytes, mode 600
#   $MILTER_BIN $TRACKER_BIN   built binaries (CTest sets them)

T_PASS=0
T_FAIL=0
T_WAIT=${T_WAIT:-20}
T_DEFERRED=()
T=

t_log() { printf '%s\n' "$*" >&2; }

t_cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for (( i=${#T_DEFERRED[@]}-1; i>=0; i-- )); do
        eval "${T_DEFERRED[$i]}" >/dev/null 2>&1 || true
    done
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "$rc" -eq 0 ] && [ "$T_FAIL" -eq 0 ] && [ -z "${T_KEEP:-}" ]; then
            rm -rf "$T"
        else
            t_log "test files kept in $T"
        fi
    fi
    exit "$rc"
}

t_init() {
    local name=${1:-test} base=${MAILSTATE_E2E_TMP:-/tmp}
    mkdir -p "$base"
    T=$(mktemp -d "$base/ms-$name.XXXXXX") || exit 99
    # MTA helpers (postfix, nobody, sendmail) must traverse it.
    chmod 0755 "$T"
    T_NAME=$name
    trap t_cleanup EXIT
    trap 'exit 130' INT TERM
}

t_defer() {
    T_DEFERRED+=("$*")
}

# A free TCP port: the kernel picks one for a socket bound to port 0.
t_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

t_wait() {
    local i n=$(( T_WAIT * 10 ))
    for (( i=0; i<n; i++ )); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

t_ok() {
    T_PASS=$((T_PASS + 1))
    printf 'ok   %s\n' "$*"
}

t_fail() {
    T_FAIL=$((T_FAIL + 1))
    printf 'FAIL %s\n' "$*"
}

# t_check MSG CMD...: ok if CMD succeeds.
t_check() {
    local msg=$1
    shift
    if "$@"; then t_ok "$msg"; else t_fail "$msg"; fi
}

t_summary() {
    printf '%s: %d passed, %d failed\n' "${T_NAME:-test}" "$T_PASS" "$T_FAIL"
    [ "$T_FAIL" -eq 0 ] && [ "$T_PASS" -gt 0 ]
}

t_key() {
    head -c 32 /dev/urandom > "$1"
    chmod 600 "$1"
}

# t_port_open PORT [HOST]: something listens there.
t_port_open() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# t_pid_gone PID: the process has exited (or is a zombie nobody reaps).
t_pid_gone() {
    ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]
}

# t_header FILE NAME: every value of header NAME in a message file (unfolded),
# one per line, in order; stops at the end of the header.
t_header() {
    awk -v want="$(printf '%s' "$2" | tr 'A-Z' 'a-z')" '
        /^\r?$/ { flush(); exit }
        /^[ \t]/ { if (cur != "") val = val " " substr($0, 2); next }
        { flush(); i = index($0, ":"); if (i == 0) next
          name = tolower(substr($0, 1, i - 1)); cur = name; val = substr($0, i + 1) }
        function flush() { if (cur == want) { sub(/^[ \t]+/, "", val); sub(/\r$/, "", val); print val }
                           cur = ""; val = "" }
        END { flush() }' "$1"
}

# t_header_names FILE: the header field names in order, one per line.
t_header_names() {
    awk '/^\r?$/ { exit } /^[^ \t]/ { i = index($0, ":"); if (i) print substr($0, 1, i - 1) }' "$1"
}

MILTER_BIN=${MILTER_BIN:-}
TRACKER_BIN=${TRACKER_BIN:-}
