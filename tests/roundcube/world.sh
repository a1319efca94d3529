# world.sh - the world of the Roundcube test (sourced by roundcube.sh):
# the tracker with [auth] on Dovecot's auth socket, the milter, a private
# Dovecot (IMAP, LMTP, auth, the mailstate plugin), a private Postfix that
# delivers over LMTP and takes SMTP AUTH through the same Dovecot, and a
# private Roundcube (Debian's files, our plugin) under PHP's built-in server.
#
#   rc_world       start all of it; sets RC_URL (http://127.0.0.1:PORT/)
#   rc_stop        stop Roundcube's server (its whole process group)
#
# Roundcube's private root ($T/rc/root) links Debian's install
# (/var/lib/roundcube) except plugins/ (Debian's required plugins plus
# roundcube/mailstate from this tree), config/ (ROUNDCUBE_CONFIG_DIR),
# logs/ and temp/; nothing of the machine's Roundcube is changed.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/tracker.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/postfix.sh"
. "$here/../lib/dovecot.sh"

RC_DIR= RC_URL= RC_PID=
RC_SYS=${RC_SYS:-/var/lib/roundcube}

rc_world() {
    local tport rport sport
    tport=$(t_port)
    tracker_conf "$T/tracker.conf" "$tport" "
[auth]
dovecot_socket = $T/dovecot/run/auth-mailstate
cache_ttl = 60s"
    tracker_start "$T/tracker.conf" || return 1
    dovecot_start "$TRACKER_URL" "$TRACKER_TOKEN_NOTIFY" || return 1
    t_wait test -S "$DOVECOT_AUTH_SOCKET" || return 1
    milter_conf "$T/milter.conf" "unix:$T/milter.sock" "$T/store"
    milter_start "$T/milter.conf" || return 1
    sport=$(t_port)
    mta_start "$T/postfix" "$sport" "unix:$T/milter.sock" || return 1
    mta_conf "local_transport = lmtp:unix:$DOVECOT_LMTP" \
             "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
             "smtpd_sasl_path = $DOVECOT_AUTH_SOCKET" \
             "smtpd_sasl_security_options = noanonymous" \
             "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" ||
        return 1
    rport=$(t_port)
    rc_start "$rport" "$sport" || return 1
}

rc_start() {
    local port=$1 smtp=$2 p
    RC_DIR=$T/rc
    mkdir -p "$RC_DIR/root/public_html" "$RC_DIR/root/plugins" "$RC_DIR/config" \
             "$RC_DIR/logs" "$RC_DIR/temp"
    # INSTALL_PATH is realpath(public_html/..): public_html must be a real
    # directory here, its index.php a copy (PHP resolves a linked script).
    cp "$RC_SYS/public_html/index.php" "$RC_DIR/root/public_html/"
    for p in program skins; do
        ln -s "$RC_SYS/public_html/$p" "$RC_DIR/root/public_html/$p"
    done
    ln -s ../plugins "$RC_DIR/root/public_html/plugins"
    for p in index.php program skins SQL; do
        ln -s "$RC_SYS/$p" "$RC_DIR/root/$p"
    done
    ln -s "$RC_DIR/config" "$RC_DIR/root/config"
    ln -s "$RC_DIR/logs" "$RC_DIR/root/logs"
    ln -s "$RC_DIR/temp" "$RC_DIR/root/temp"
    for p in "$RC_SYS"/plugins/*; do
        ln -s "$(readlink -f "$p")" "$RC_DIR/root/plugins/"
    done
    ln -s "$src/roundcube/mailstate" "$RC_DIR/root/plugins/mailstate"
    ln -s /etc/roundcube/defaults.inc.php "$RC_DIR/config/"
    ln -s /etc/roundcube/mimetypes.php "$RC_DIR/config/"
    cat > "$RC_DIR/config/config.inc.php" <<EOF_RC
<?php
\$config = [];
\$config['db_dsnw'] = 'sqlite:///$RC_DIR/rc.db?mode=0646';
\$config['imap_host'] = '127.0.0.1:$DOVECOT_PORT';
\$config['smtp_host'] = '127.0.0.1:$smtp';
\$config['smtp_user'] = '%u';
\$config['smtp_pass'] = '%p';
\$config['des_key'] = '$(head -c 18 /dev/urandom | base64)';
\$config['log_dir'] = '$RC_DIR/logs/';
\$config['temp_dir'] = '$RC_DIR/temp/';
\$config['skin'] = 'elastic';
\$config['language'] = 'en_US';
\$config['timezone'] = 'UTC';
\$config['create_default_folders'] = true;
\$config['enable_installer'] = false;
\$config['support_url'] = '';
\$config['plugins'] = ['mailstate'];
\$config['mailstate_url'] = '$TRACKER_URL';
\$config['mailstate_timeout'] = 1;
EOF_RC
    RC_URL="http://127.0.0.1:$port/"
    # setsid: the server (and any worker) in its own process group, stopped as one
    ROUNDCUBE_CONFIG_DIR=$RC_DIR/config setsid php -S "127.0.0.1:$port" -t "$RC_DIR/root/public_html" \
        </dev/null >> "$RC_DIR/php.log" 2>&1 &
    RC_PID=$!
    t_defer rc_stop
    if ! t_wait t_port_open "$port"; then
        t_log "php -S did not listen on $port"
        cat "$RC_DIR/php.log" >&2
        return 1
    fi
}

rc_stop() {
    [ -n "$RC_PID" ] || return 0
    kill -TERM -- "-$RC_PID" 2>/dev/null
    t_wait t_pid_gone "$RC_PID" || kill -KILL -- "-$RC_PID" 2>/dev/null
    RC_PID=
}
