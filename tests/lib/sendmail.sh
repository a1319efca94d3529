# tests/lib/sendmail.sh — MTA adapter for a private Sendmail 8.17 (bash).
#
# Same functions and meaning as tests/lib/postfix.sh (contract in README.md):
#   mta_start DIR PORT MILTER_SOCKET   private Sendmail on 127.0.0.1:PORT,
#                                      local domain a.example, milter attached
#                                      without F= (mail passes when it is down);
#                                      an empty MILTER_SOCKET attaches none;
#                                      $SM_MC_EXTRA (if set) is added to the .mc
#   mta_send FROM RCPT... [-- swaks options]
#   mta_wait_delivered N               N local deliveries in total (per recipient)
#   mta_messages USER                  delivered message files, oldest first
#   mta_queue_id FILE                  Sendmail's queue id of a delivered message
#   mta_submit FROM RCPT... < MESSAGE  (optional in the contract) local
#                                      submission the Sendmail way: the MSP
#                                      (sendmail -C submit.cf, FEATURE(msp))
#                                      relays it over SMTP from 127.0.0.1 to
#                                      the MTA, whose milter sees it
#   mta_stop                           stop, wait until no process of it is left
#
# Debian's sendmail packages conflict with postfix, so nothing is installed:
# sendmail-bin, sendmail-base and sendmail-cf are fetched with
# `apt-get download` into $SENDMAIL_CACHE (CTest points it into the build
# tree; reused when present) and unpacked there with `dpkg -x`.
#
# Delivery: local domains a.example and b.example; the local mailer is a small
# script that stores each message as one file DIR/mail/USER/msg.* and appends
# one line per delivery to DIR/delivered.log. Every other domain goes to the
# same script as mailer "ext", which discards the message and logs the
# delivery too (Postfix's adapter discards those and logs them as sent).
# Sendmail itself has no log here (it logs only to syslog, and there is none);
# its SMTP traffic goes to DIR/traffic.log (-X) for post-mortems.
#
# The milter lines come verbatim from packaging/sendmail/mailstate.mc, with
# MAILSTATE_SOCKET defined to the test's socket, so the test proves the lines
# the docs give.
#
# Processes: sendmail runs in its own UTS namespace (`unshare -u`, hostname
# mx1.a.example: without a dotted hostname every start sleeps 60 s). That
# namespace also identifies every child it forks, so mta_stop can wait for
# (and, if needed, kill) exactly those processes and no others.

SM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SM_SRC_DIR=${MAILSTATE_SRC_DIR:-$(cd "$SM_LIB_DIR/../.." && pwd)}
SM_HOSTNAME=mx1.a.example
MTA_NAME=sendmail
MTA_DIR= MTA_PORT= MTA_PID= MTA_NS=

# _sm_poll CMD... — true as soon as CMD succeeds, false after about 20 s.
_sm_poll() {
    local i
    for i in $(seq 1 200); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# sm_fetch — make sure the unpacked Sendmail tree exists; sets SM_ROOT.
sm_fetch() {
    local cache=${SENDMAIL_CACHE:-${T:?}/sendmail-cache}
    SM_ROOT=$cache/root
    [ -x "$SM_ROOT/usr/libexec/sendmail/sendmail" ] && return 0
    mkdir -p "$cache/debs" || return 1
    (
        # One fetch at a time per cache (build/dev and build/asan differ, but
        # two ctest runs in one tree must not unpack over each other).
        flock 9
        [ -x "$SM_ROOT/usr/libexec/sendmail/sendmail" ] && exit 0
        cd "$cache/debs" || exit 1
        if ! ls sendmail-bin_*.deb sendmail-base_*.deb sendmail-cf_*.deb >/dev/null 2>&1; then
            # (apt warns that it downloads as root, not _apt: harmless.)
            # Stale or missing package lists (packages installed long ago)
            # make the download fail: refresh them once and try again.
            apt-get -q download sendmail-bin sendmail-base sendmail-cf \
                >"$cache/apt.log" 2>&1 ||
            { apt-get -qq update >>"$cache/apt.log" 2>&1 &&
              apt-get -q download sendmail-bin sendmail-base sendmail-cf \
                >>"$cache/apt.log" 2>&1; } || { cat "$cache/apt.log" >&2; exit 1; }
        fi
        rm -rf "$cache/root.tmp"
        for deb in sendmail-bin_*.deb sendmail-base_*.deb sendmail-cf_*.deb; do
            dpkg -x "$deb" "$cache/root.tmp" || exit 1
        done
        mv "$cache/root.tmp" "$SM_ROOT"
    ) 9>"$cache/lock" || { echo "sendmail.sh: cannot fetch Sendmail into $cache" >&2; return 1; }
}

# _sm_mc DIR PORT SOCKET — the test .mc on stdout.
_sm_mc() {
    local dir=$1 port=$2 sock=$3 cf=$SM_ROOT/usr/share/sendmail/cf
    cat <<EOF
divert(-1)
include(\`$cf/debian/autoconf.m4')
divert(0)dnl
VERSIONID(\`mailstate e2e test')dnl
OSTYPE(\`debian')dnl
dnl Everything Sendmail writes or reads lives under the test directory.
define(\`QUEUE_DIR', \`$dir/queue')dnl
define(\`STATUS_FILE', \`$dir/sendmail.st')dnl
define(\`confHOST_STATUS_DIRECTORY', \`$dir/hoststat')dnl
define(\`confDEAD_LETTER_DROP', \`$dir/dead.letter')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$dir/aliases')dnl
define(\`confCR_FILE', \`-o $dir/relay-domains')dnl
define(\`confCT_FILE', \`-o $dir/trusted-users')dnl
define(\`confCW_FILE', \`-o $dir/local-host-names')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confDONT_PROBE_INTERFACES', \`true')dnl
dnl interactive: the SMTP child delivers itself (background delivery forks
dnl a grandchild that outlives it and is left as a zombie under a PID 1
dnl that does not reap, as on this test machine).
define(\`confDELIVERY_MODE', \`interactive')dnl
define(\`confTO_IDENT', \`0s')dnl
dnl Load-average limits off: with the defaults (QueueLA 8, RefuseLA 12) a
dnl busy 2-core test machine makes Sendmail queue instead of delivering, or
dnl close its listening socket altogether.
define(\`confQUEUE_LA', \`10000')dnl
define(\`confREFUSE_LA', \`10000')dnl
define(\`confDELAY_LA', \`0')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
DAEMON_OPTIONS(\`Port=$port, Addr=127.0.0.1, Name=MTA')dnl
LOCAL_DOMAIN(\`a.example')dnl
LOCAL_DOMAIN(\`b.example')dnl
define(\`LOCAL_MAILER_PATH', \`$dir/deliver')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver \$u')dnl
MODIFY_MAILER_FLAGS(\`LOCAL', \`-w')dnl
EOF
    if [ -n "$sock" ]; then
        case $sock in
            unix:*|local:*|inet:*|inet6:*) ;;
            *) sock=unix:$sock ;;
        esac
        printf 'define(`MAILSTATE_SOCKET'"'"', `%s'"'"')dnl\n' "$sock"
        printf 'include(`%s'"'"')dnl\n' "$SM_SRC_DIR/packaging/sendmail/mailstate.mc"
    fi
    [ -z "${SM_MC_EXTRA:-}" ] || printf '%s\n' "$SM_MC_EXTRA"
    cat <<EOF
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MAILER_DEFINITIONS
Mext,	P=$dir/deliver, F=mDFMnS, S=EnvFromL, R=EnvToL, A=deliver -x \$u@\$h
LOCAL_NET_CONFIG
R\$* < @ \$+ > \$*	\$#ext \$@ \$2 \$: \$1 < @ \$2 > \$3
EOF
}

# _sm_submit_mc DIR PORT — the MSP's .mc (like Debian's submit.mc, relaying
# to our MTA's port instead of 25; RunAsUser must not be root for an MSP).
_sm_submit_mc() {
    local dir=$1 port=$2 cf=$SM_ROOT/usr/share/sendmail/cf
    cat <<EOF
divert(-1)
include(\`$cf/debian/autoconf.m4')
divert(0)dnl
VERSIONID(\`mailstate e2e test MSP')dnl
OSTYPE(\`debian')dnl
define(\`confRUN_AS_USER', \`mail')dnl
define(\`MSP_QUEUE_DIR', \`$dir/msp-queue')dnl
define(\`STATUS_FILE', \`$dir/sm-client.st')dnl
define(\`confPID_FILE', \`$dir/sm-client.pid')dnl
define(\`confHOST_STATUS_DIRECTORY', \`$dir/hoststat')dnl
define(\`confCT_FILE', \`-o $dir/trusted-users')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $port')dnl
define(\`confQUEUE_LA', \`10000')dnl
define(\`confREFUSE_LA', \`10000')dnl
FEATURE(\`msp', \`[127.0.0.1]')dnl
EOF
}

# _sm_run ARGS... — run the Sendmail binary in a new UTS namespace with a
# proper hostname (in the foreground of the caller).
_sm_run() {
    unshare -u sh -c 'hostname "$0" && exec "$@"' "$SM_HOSTNAME" \
        "$SM_ROOT/usr/libexec/sendmail/sendmail" "$@"
}

mta_start() {
    local dir=$1 port=$2 sock=${3:-} u
    [ -n "$dir" ] && [ -n "$port" ] || { echo "usage: mta_start DIR PORT MILTER_SOCKET" >&2; return 2; }
    sm_fetch || return 1
    mta_stop    # one instance at a time, as with postfix.sh
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    MTA_DIR=$dir MTA_PORT=$port
    # Sendmail refuses group/world-writable paths for its cf, aliases, queue.
    chmod 0755 "$dir"
    mkdir -p "$dir/queue" "$dir/hoststat" "$dir/mail"
    chmod 0700 "$dir/queue"
    mkdir -p "$dir/msp-queue"
    chown mail:mail "$dir/msp-queue" && chmod 0770 "$dir/msp-queue"
    for u in alice bob carol dave; do mkdir -p "$dir/mail/$u"; done
    : >"$dir/delivered.log"
    declare -F t_defer >/dev/null && t_defer mta_stop
    : >"$dir/relay-domains"; : >"$dir/trusted-users"; : >"$dir/local-host-names"
    printf 'postmaster: root\nMAILER-DAEMON: root\nabuse: root\n' >"$dir/aliases"
    chmod 0644 "$dir/aliases"

    # The local mailer (runs as root: Debian's cf keeps F=S). One file per
    # message, written under a dot name and renamed, so readers never see a
    # partial file; then one line per delivery in delivered.log.
    cat >"$dir/deliver" <<EOF
#!/bin/sh
if [ "\$1" = -x ]; then
    # Another domain: discard, log as delivered.
    cat >/dev/null
    echo "external \$2" >>'$dir/delivered.log'
    exit 0
fi
u=\$(printf '%s' "\$1" | tr 'A-Z' 'a-z')
case \$u in ''|*/*|.*) exit 67 ;; esac
d='$dir/mail'/\$u
mkdir -p "\$d" || exit 73
tmp=\$(mktemp "\$d/.tmp.XXXXXX") || exit 73
cat >"\$tmp" || { rm -f "\$tmp"; exit 74; }
f=\$d/msg.\$(date +%s%N).\$\$
mv "\$tmp" "\$f" || exit 73
echo "\$u \$f" >>'$dir/delivered.log'
EOF
    chmod 0755 "$dir/deliver"

    _sm_mc "$dir" "$port" "$sock" >"$dir/test.mc"
    m4 -D_CF_DIR_="$SM_ROOT/usr/share/sendmail/cf/" \
        "$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4" "$dir/test.mc" >"$dir/sendmail.cf" \
        2>"$dir/m4.log" || { cat "$dir/m4.log" >&2; return 1; }
    chmod 0644 "$dir/sendmail.cf"
    _sm_submit_mc "$dir" "$port" >"$dir/submit.mc"
    m4 -D_CF_DIR_="$SM_ROOT/usr/share/sendmail/cf/" \
        "$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4" "$dir/submit.mc" >"$dir/submit.cf" \
        2>>"$dir/m4.log" || { cat "$dir/m4.log" >&2; return 1; }
    chmod 0644 "$dir/submit.cf"
    _sm_run -C"$dir/sendmail.cf" -bi >"$dir/newaliases.log" 2>&1 ||
        { cat "$dir/newaliases.log" >&2; return 1; }

    # -bD: daemon in the foreground, so $! is Sendmail's own PID (unshare
    # and sh exec into it). -X: SMTP traffic log for post-mortems.
    # (Not through _sm_run: a backgrounded function is a subshell, and $!
    # would be that subshell's PID.)
    unshare -u sh -c 'hostname "$0" && exec "$@"' "$SM_HOSTNAME" \
        "$SM_ROOT/usr/libexec/sendmail/sendmail" -C"$dir/sendmail.cf" -bD \
        -X "$dir/traffic.log" >"$dir/sendmail.out" 2>&1 </dev/null &
    MTA_PID=$!
    if ! _sm_poll _sm_ready; then
        echo "sendmail.sh: Sendmail did not come up on 127.0.0.1:$port" >&2
        cat "$dir/sendmail.out" >&2
        MTA_NS=$(readlink "/proc/$MTA_PID/ns/uts")
        mta_stop
        return 1
    fi
    # The namespace id is only final once unshare has run.
    MTA_NS=$(readlink "/proc/$MTA_PID/ns/uts")
}

# _sm_ready — Sendmail alive and answering 220 on its port.
_sm_ready() {
    kill -0 "$MTA_PID" 2>/dev/null || return 1
    local line
    { exec 8<>"/dev/tcp/127.0.0.1/$MTA_PORT"; } 2>/dev/null || return 1
    IFS= read -r -t 5 line <&8
    printf 'QUIT\r\n' >&8
    exec 8<&- 8>&-
    case $line in 220*) return 0 ;; esac
    return 1
}

mta_send() {
    local from=$1 rcpts=
    shift
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        rcpts=${rcpts:+$rcpts,}$1
        shift
    done
    [ "${1:-}" = "--" ] && shift
    swaks --server 127.0.0.1 --port "$MTA_PORT" --helo client.test \
        --from "$from" --to "$rcpts" --silent 2 "$@"
}

# The MSP delivers to the MTA before it returns (DeliveryMode=interactive).
mta_submit() {
    local from=$1
    shift
    _sm_run -C"$MTA_DIR/submit.cf" -f "$from" -- "$@"
}

_sm_delivered() { [ "$(wc -l <"$MTA_DIR/delivered.log")" -ge "$1" ]; }

mta_wait_delivered() {
    _sm_poll _sm_delivered "$1" && return 0
    echo "sendmail.sh: $(wc -l <"$MTA_DIR/delivered.log") of $1 deliveries" >&2
    return 1
}

mta_messages() {
    [ -d "$MTA_DIR/mail/$1" ] || return 0
    find "$MTA_DIR/mail/$1" -maxdepth 1 -type f -name 'msg.*' | sort
}

# The id in Sendmail's own Received: line ("by mx1.a.example (...) with ESMTP
# id 5ASAQx1a000123"); forged Received lines from the client sit below it.
mta_queue_id() {
    awk -v host="$SM_HOSTNAME" '
        /^$/ { exit }
        /^[ \t]/ { h = h " " $0; next }
        { if (h != "") check(); h = $0 }
        END { if (h != "") check() }
        function check(  n, w, i) {
            if (done || h !~ /^Received:/ || index(h, "by " host " ") == 0) { h = ""; return }
            n = split(h, w, /[ \t;]+/)
            for (i = 1; i < n; i++) if (w[i] == "id") { print w[i + 1]; done = 1; break }
            h = ""
        }' "$1" | head -n 1 | grep .
}

# _sm_procs — PIDs of every process in Sendmail's namespace (daemon, SMTP
# children, mailers).
_sm_procs() {
    local p
    # Before unshare has run, the namespace is ours: then only the PID counts.
    if [ -z "$MTA_NS" ] || [ "$MTA_NS" = "$(readlink /proc/$$/ns/uts)" ]; then
        kill -0 "$MTA_PID" 2>/dev/null && echo "$MTA_PID"
        return 0
    fi
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/uts" 2>/dev/null)" = "$MTA_NS" ] && echo "${p#/proc/}"
    done
}

_sm_gone() { [ -z "$(_sm_procs)" ]; }

mta_stop() {
    local p
    [ -n "$MTA_PID" ] || return 0
    kill -TERM "$MTA_PID" 2>/dev/null
    if ! _sm_poll _sm_gone; then
        echo "sendmail.sh: killing leftover Sendmail processes: $(_sm_procs | tr '\n' ' ')" >&2
        for p in $(_sm_procs); do kill -KILL "$p" 2>/dev/null; done
    fi
    wait "$MTA_PID" 2>/dev/null
    MTA_PID= MTA_NS=
    return 0
}
