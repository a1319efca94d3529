# postfix.sh - MTA adapter for a private Postfix on loopback (bash).
# Same functions as sendmail.sh (contract: README.md); needs common.sh.
#
#   mta_start DIR PORT [MILTER_SOCKET]   own config dir DIR/etc, queue DIR/queue,
#       no chroot, smtpd on 127.0.0.1:PORT, local domains a.example and
#       b.example, users alice bob carol dave (Maildir DIR/mail/USER/),
#       everything else is discarded (logged as delivered), the milter (if
#       given, "unix:/path" or "inet:PORT@HOST") in smtpd_milters and
#       non_smtpd_milters with milter_default_action = accept
#   mta_send FROM RCPT... [-- SWAKS_OPTIONS...]   one SMTP transaction
#   mta_submit FROM RCPT... < MESSAGE    local submission (Postfix sendmail(1))
#   mta_wait_delivered N   wait until N deliveries (status=sent) are logged
#   mta_messages USER      delivered message files of USER, oldest first
#   mta_queue_id FILE      queue id of a delivered message
#   mta_log                the MTA's log file
#   mta_stop               stop and wait until every process has exited
#   mta_conf KEY=VALUE...  change main.cf and reload (Postfix only)
#   mta_auth USER PASSWORD   enable SMTP AUTH (PLAIN/LOGIN, no TLS) for one
#       user through a private Dovecot auth service (Postfix only)

MTA_DIR=
MTA_PORT=
MTA_USERS="alice bob carol dave"

# "inet:PORT@HOST" (libmilter) is "inet:HOST:PORT" in Postfix.
_pf_milter_addr() {
    case $1 in
        inet:*@*) local p=${1#inet:}; printf 'inet:%s:%s' "${p#*@}" "${p%@*}" ;;
        local:*) printf 'unix:%s' "${1#local:}" ;;
        *) printf '%s' "$1" ;;
    esac
}

_pf() { postconf -c "$MTA_DIR/etc" "$@"; }

mta_start() {
    MTA_DIR=$1 MTA_PORT=$2
    local milter=${3:-} u aliases=
    mkdir -p "$MTA_DIR/etc" "$MTA_DIR/queue" "$MTA_DIR/data" "$MTA_DIR/mail"
    chown postfix "$MTA_DIR/data"
    for u in $MTA_USERS; do
        mkdir -p "$MTA_DIR/mail/$u"
        chown nobody "$MTA_DIR/mail/$u"
        aliases="$aliases $u=$MTA_DIR/mail/$u/,"
    done
    : > "$MTA_DIR/etc/main.cf"
    grep -v '^smtp[[:space:]]\+inet' /etc/postfix/master.cf.proto > "$MTA_DIR/etc/master.cf"
    printf '127.0.0.1:%s inet n - n - - smtpd\n' "$MTA_PORT" >> "$MTA_DIR/etc/master.cf"
    _pf -F '*/*/chroot = n'
    _pf -e \
        "compatibility_level = 3.6" \
        "queue_directory = $MTA_DIR/queue" \
        "data_directory = $MTA_DIR/data" \
        "mail_owner = postfix" \
        "setgid_group = postdrop" \
        "myhostname = mx1.a.example" \
        "mydomain = a.example" \
        "myorigin = a.example" \
        "mydestination = a.example, b.example" \
        "inet_interfaces = loopback-only" \
        "inet_protocols = ipv4" \
        "mynetworks = 127.0.0.0/8" \
        "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
        "smtpd_peername_lookup = no" \
        "alias_maps = inline:{${aliases%,} }" \
        "alias_database =" \
        "local_recipient_maps = \$alias_maps" \
        "default_transport = discard:external" \
        "relay_transport = discard:external" \
        "smtputf8_enable = yes" \
        "biff = no" \
        "maillog_file = $MTA_DIR/maillog" \
        "maillog_file_prefixes = $MTA_DIR" \
        "syslog_name = ms-$(basename "$MTA_DIR")" \
        "milter_default_action = accept" \
        "milter_protocol = 6"
    if [ -n "$milter" ]; then
        milter=$(_pf_milter_addr "$milter")
        _pf -e "smtpd_milters = $milter" "non_smtpd_milters = $milter"
    fi
    t_defer mta_stop
    if ! postfix -c "$MTA_DIR/etc" start >/dev/null 2>&1; then
        # postfix prints nothing without a terminal; script(1) gives it one.
        script -qc "postfix -c $MTA_DIR/etc check" /dev/null >&2
        return 1
    fi
    t_wait t_port_open "$MTA_PORT" || { t_log "postfix not listening on $MTA_PORT"; return 1; }
}

mta_conf() {
    _pf -e "$@" && postfix -c "$MTA_DIR/etc" reload >/dev/null 2>&1
}

mta_send() {
    local from=$1 to=
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        to="${to:+$to,}$1"
        shift
    done
    [ "${1:-}" = -- ] && shift
    swaks --server 127.0.0.1 --port "$MTA_PORT" --from "$from" --to "$to" \
          --helo client.test --silent 2 "$@"
}

mta_submit() {
    local from=$1
    shift
    /usr/sbin/sendmail -C "$MTA_DIR/etc" -f "$from" -- "$@"
}

mta_delivered_count() {
    grep -c ' status=sent ' "$MTA_DIR/maillog" 2>/dev/null || true
}

_pf_delivered_at_least() {
    [ "$(mta_delivered_count)" -ge "$1" ]
}

mta_wait_delivered() {
    t_wait _pf_delivered_at_least "$1"
}

mta_messages() {
    local d=$MTA_DIR/mail/$1
    [ -d "$d/new" ] || return 0
    # Maildir names start with the delivery time in seconds, then a unique part.
    find "$d/new" "$d/cur" -type f 2>/dev/null | sort -t/ -k1
}

# The queue id is in Postfix's own Received: line ("... (Postfix) with ESMTP
# id 4F2A1C3 ..." or "(Postfix, from userid 0) id ...") - the first one.
mta_queue_id() {
    t_header "$1" Received | sed -n 's/.*(Postfix[^)]*)\( with [A-Za-z]*\)\{0,1\} id \([0-9A-Za-z]*\).*/\2/p' | head -n1
}

mta_log() {
    printf '%s\n' "$MTA_DIR/maillog"
}

_pf_down() {
    ! postfix -c "$MTA_DIR/etc" status >/dev/null 2>&1
}

mta_stop() {
    [ -n "$MTA_DIR" ] && [ -d "$MTA_DIR/etc" ] || return 0
    local pidfile=$MTA_DIR/queue/pid/master.pid master= kids= p
    [ -f "$pidfile" ] && master=$(tr -d ' \n' < "$pidfile")
    [ -n "$master" ] && kids=$(ps -o pid= --ppid "$master" 2>/dev/null)
    postfix -c "$MTA_DIR/etc" stop >/dev/null 2>&1 || true
    t_wait _pf_down || postfix -c "$MTA_DIR/etc" abort >/dev/null 2>&1 || true
    for p in $master $kids; do
        t_wait t_pid_gone "$p" || kill -KILL "$p" 2>/dev/null || true
    done
}

mta_auth() {
    local user=$1 pass=$2 d=$MTA_DIR/dovecot
    command -v dovecot >/dev/null || { t_log "dovecot not installed"; return 1; }
    mkdir -p "$d/run" "$d/state"
    printf '%s:{PLAIN}%s\n' "$user" "$pass" > "$d/passwd"
    cat > "$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
log_path = $d/log
protocols = none
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $d/auth {
    mode = 0666
  }
}
CONF
    dovecot -c "$d/dovecot.conf" || return 1
    t_defer "_pf_dovecot_stop $d"
    t_wait test -S "$d/auth" || return 1
    mta_conf "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
             "smtpd_sasl_path = $d/auth" "smtpd_sasl_security_options = noanonymous" \
             "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
}

_pf_dovecot_stop() {
    local pid
    pid=$(cat "$1/run/master.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    t_wait t_pid_gone "$pid"
}
