# dovecot.sh - a private Dovecot 2.3 with the mailstate plugin (bash).
# Needs common.sh sourced first ($T, t_wait, t_defer, t_port, t_port_open).
#
#   dovecot_start TRACKER_URL TOKEN [PLUGIN_LINES]
#       config in $T/dovecot/dovecot.conf: IMAP on 127.0.0.1:$DOVECOT_PORT
#       (picked at run time), LMTP on the unix socket $DOVECOT_LMTP,
#       passwd-file users alice bob carol dave @a.example (password
#       "secret", uid nobody), Maildir in $T/dovecot/home/USER/Maildir,
#       a Trash mailbox with special-use \Trash, mail_plugin_dir
#       $T/dovecot/modules holding $DOVECOT_PLUGIN and a link to the
#       system's notify plugin; plugin settings mailstate_url/token/
#       recipient (%n@%d, expanded by Dovecot) plus PLUGIN_LINES.  Waits for the IMAP port.
#       DOVECOT_EXTRA[USER]="k=v ..." adds userdb extra fields (e.g.
#       userdb_mailstate_spool_max=2 overrides that plugin setting for USER).
#       $DOVECOT_AUTH_SOCKET is an auth-client socket (the listener of
#       packaging/dovecot/10-auth-mailstate.conf) for the tracker's [auth]
#       and Postfix's smtpd_sasl_path.
#   dovecot_stop        stop the master and wait until it is gone
#   dovecot_deliver RCPT SUBJECT [MAIL_ID SENDER]
#                       one LMTP delivery (X-Mail-Id/X-Sender if given)
#   dovecot_imap USER ACTION...   run tests/dovecot/imap.py against it
#   dovecot_spool USER  the user's spool directory
#   $DOVECOT_PLUGIN     the built plugin (CTest sets it)
#   $DOVECOT_LOG        Dovecot's log file

DOVECOT_DIR=
DOVECOT_PORT=
DOVECOT_LMTP=
DOVECOT_AUTH_SOCKET=
DOVECOT_LOG=
DOVECOT_PID=
DOVECOT_USERS="alice bob carol dave"
DOVECOT_PLUGIN=${DOVECOT_PLUGIN:-}
declare -gA DOVECOT_EXTRA=()
_DOVECOT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

dovecot_start() {
    local url=$1 token=$2 extra=${3:-} u
    DOVECOT_DIR=$T/dovecot
    DOVECOT_LMTP=$DOVECOT_DIR/lmtp.sock
    DOVECOT_AUTH_SOCKET=$DOVECOT_DIR/run/auth-mailstate
    DOVECOT_LOG=$DOVECOT_DIR/dovecot.log
    DOVECOT_PORT=$(t_port)
    mkdir -p "$DOVECOT_DIR/run" "$DOVECOT_DIR/state" "$DOVECOT_DIR/modules"
    # mail_plugin_dir replaces the module directory: notify must be there.
    ln -sf /usr/lib/dovecot/modules/lib15_notify_plugin.so "$DOVECOT_DIR/modules/"
    cp "$DOVECOT_PLUGIN" "$DOVECOT_DIR/modules/lib90_mailstate_plugin.so"
    : > "$DOVECOT_DIR/users"
    for u in $DOVECOT_USERS; do
        mkdir -p "$DOVECOT_DIR/home/$u"
        printf '%s@a.example:{PLAIN}secret:65534:65534::%s::%s\n' \
            "$u" "$DOVECOT_DIR/home/$u" "${DOVECOT_EXTRA[$u]:-}" >> "$DOVECOT_DIR/users"
    done
    chown -R nobody:nogroup "$DOVECOT_DIR/home"
    cat > "$DOVECOT_DIR/dovecot.conf" <<EOF
protocols = imap lmtp
base_dir = $DOVECOT_DIR/run
state_dir = $DOVECOT_DIR/state
log_path = $DOVECOT_LOG
instance_name = ms-$(basename "$T")
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_plugin_dir = $DOVECOT_DIR/modules
mail_plugins = notify mailstate
mail_always_cache_fields = hdr.x-mail-id
mail_debug = yes
namespace inbox {
  inbox = yes
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Archive {
    auto = create
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $DOVECOT_DIR/users
}
userdb {
  driver = passwd-file
  args = $DOVECOT_DIR/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener $DOVECOT_LMTP {
    mode = 0666
  }
}
# The tracker's [auth] dovecot_socket (packaging/dovecot/10-auth-mailstate.conf).
service auth {
  unix_listener auth-mailstate {
    mode = 0666
  }
}
plugin {
  mailstate_url = $url
  mailstate_token = $token
  mailstate_recipient = %n@%d
  mailstate_timeout = 3s
$extra
}
EOF
    t_defer dovecot_stop
    # The master keeps the stdio it was started with: never CTest's pipe.
    if ! dovecot -c "$DOVECOT_DIR/dovecot.conf" </dev/null \
            >> "$DOVECOT_DIR/master.out" 2>&1; then
        t_log "dovecot did not start"
        cat "$DOVECOT_DIR/master.out" >&2
        return 1
    fi
    # master.pid appears after "dovecot" returned
    t_wait test -s "$DOVECOT_DIR/run/master.pid" ||
        { t_log "dovecot wrote no master.pid"; return 1; }
    DOVECOT_PID=$(cat "$DOVECOT_DIR/run/master.pid")
    if ! t_wait t_port_open "$DOVECOT_PORT"; then
        t_log "dovecot not listening on $DOVECOT_PORT; log:"
        tail -20 "$DOVECOT_LOG" >&2
        return 1
    fi
}

dovecot_stop() {
    [ -n "$DOVECOT_DIR" ] && [ -f "$DOVECOT_DIR/dovecot.conf" ] || return 0
    [ -n "$DOVECOT_PID" ] || DOVECOT_PID=$(cat "$DOVECOT_DIR/run/master.pid" 2>/dev/null)
    [ -n "$DOVECOT_PID" ] || return 0
    # Not "doveadm stop": it reads master.pid, which a broken start may
    # not have written; the PID is known here.
    kill -TERM "$DOVECOT_PID" 2>/dev/null
    t_wait t_pid_gone "$DOVECOT_PID" || kill -KILL "$DOVECOT_PID" 2>/dev/null
    DOVECOT_PID=
}

dovecot_deliver() {
    /usr/bin/python3 - "$DOVECOT_LMTP" "$@" <<'EOF'
import smtplib, sys
sock, rcpt, subject = sys.argv[1:4]
hdrs = "From: alice@a.example\r\nTo: %s\r\nSubject: %s\r\n" % (rcpt, subject)
if len(sys.argv) > 5:
    hdrs += "X-Mail-Id: %s\r\nX-Sender: %s\r\n" % (sys.argv[4], sys.argv[5])
lmtp = smtplib.LMTP(sock)
lmtp.sendmail("alice@a.example", [rcpt], hdrs + "\r\nhello\r\n")
lmtp.quit()
EOF
}

dovecot_imap() {
    local user=$1
    shift
    /usr/bin/python3 "$_DOVECOT_LIB_DIR/../dovecot/imap.py" \
        127.0.0.1 "$DOVECOT_PORT" "$user@a.example" secret "$@"
}

dovecot_spool() {
    printf '%s\n' "$DOVECOT_DIR/home/$1/mailstate-spool"
}
