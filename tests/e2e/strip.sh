#!/bin/bash
# The tracking headers stay inside the system (issue 14 item 6), with the
# Postfix configuration we ship (packaging/postfix/master.cf.snippet and
# mailstate_header_checks) applied as its comments say.
#
# mx1: a private Postfix with the real milter (127.0.0.1).  "world": a
# second private Postfix on 127.0.0.2 that plays both the outside world
# (ext.example, reached through mx1's "smtp" transport, which strips the
# headers) and a server of the system (c.example, reached through the
# "mailstate-peer" transport, which keeps them).  Attack/leak tried: a mail
# to recipients inside and outside carries one X-Mail-Id set; the copy that
# leaves the system must not show it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/postfix.sh"
t_init e2e-strip
SRC=$here/../..

# ---- the second Postfix ("world", 127.0.0.2) ----
W=$T/world
WPORT=$(t_port)
wpf() { postconf -c "$W/etc" "$@"; }
mkdir -p "$W/etc" "$W/queue" "$W/data" "$W/mail/carol" "$W/mail/x"
chown postfix "$W/data"
chown nobody "$W/mail/carol" "$W/mail/x"
: > "$W/etc/main.cf"
grep -v '^smtp[[:space:]]\+inet' /etc/postfix/master.cf.proto > "$W/etc/master.cf"
echo "127.0.0.2:$WPORT inet n - n - - smtpd" >> "$W/etc/master.cf"
wpf -F '*/*/chroot = n'
wpf -e compatibility_level=3.6 queue_directory="$W/queue" data_directory="$W/data" \
    mail_owner=postfix setgid_group=postdrop syslog_name=ms-world \
    maillog_file="$W/maillog" maillog_file_prefixes="$T" \
    myhostname=mx.world.example mydestination="c.example, ext.example" \
    inet_interfaces=loopback-only inet_protocols=ipv4 mynetworks=127.0.0.0/8 \
    "alias_maps=inline:{ carol=$W/mail/carol/, x=$W/mail/x/ }" alias_database= \
    'local_recipient_maps=$alias_maps' default_transport=discard:none \
    smtpd_peername_lookup=no biff=no
postfix -c "$W/etc" start >/dev/null 2>&1 ||
    { script -qc "postfix -c $W/etc check" /dev/null; t_fail "world Postfix start"; t_summary; exit 1; }
t_defer "postfix -c $W/etc stop >/dev/null 2>&1"
t_wait t_port_open "$WPORT" 127.0.0.2 || { t_fail "world Postfix listening"; t_summary; exit 1; }

# ---- mx1 with the milter, and the shipped header configuration ----
milter_conf "$T/milter.conf" "unix:$T/milter.sock" "$T/store"
milter_start "$T/milter.conf" || { t_fail "milter start"; t_summary; exit 1; }
mta_start "$T/mx1" "$(t_port)" "unix:$T/milter.sock" || { t_fail "mx1 start"; t_summary; exit 1; }
cp "$SRC/packaging/postfix/mailstate_header_checks" "$MTA_DIR/etc/"
# the snippet's steps 1 and 2 (chroot off for a private instance)
_pf -P "smtp/unix/smtp_header_checks=regexp:$MTA_DIR/etc/mailstate_header_checks"
_pf -M 'mailstate-peer/unix=mailstate-peer unix - - n - - smtp'
# step 3: the system's other server (mx2 hosts c.example) goes through it
mta_conf "transport_maps=inline:{ c.example=mailstate-peer:[127.0.0.2]:$WPORT, ext.example=smtp:[127.0.0.2]:$WPORT }" \
    default_transport=smtp relay_transport=smtp smtp_bind_address=127.0.0.1 \
    smtp_dns_support_level=disabled smtp_host_lookup=native ||
    t_fail "mx1 reload with the header configuration"
t_check "the shipped master.cf lines are in place" \
    grep -q "smtp_header_checks=regexp:$MTA_DIR/etc/mailstate_header_checks" "$MTA_DIR/etc/master.cf"

mta_send alice@a.example bob@a.example carol@c.example x@ext.example -- \
    --header "Subject: strip-test" || t_fail "send"
world_delivered() { [ "$(grep -c ' status=sent ' "$W/maillog" 2>/dev/null)" -ge 2 ]; }
mta_wait_delivered 1 || t_fail "bob's copy delivered on mx1"
t_wait world_delivered || t_fail "two copies delivered in the world"

BOB=$(mta_messages bob | head -n1)
CAROL=$(find "$W/mail/carol" -type f | head -n1)
X=$(find "$W/mail/x" -type f | head -n1)
ID=$(t_header "$BOB" X-Mail-Id)
t_check "inside (bob@a.example): tagged" [ -n "$ID" ]
t_check "to a server of the system (carol@c.example): X-Mail-Id kept" \
    [ "$(t_header "$CAROL" X-Mail-Id)" = "$ID" ]
t_check "to a server of the system: X-Sender kept" \
    [ "$(t_header "$CAROL" X-Sender)" = alice@a.example ]
t_check "outside (x@ext.example): delivered" [ -n "$X" ] && grep -q "strip-test" "$X"
t_check "outside: no X-Mail-Id" [ -z "$(t_header "$X" X-Mail-Id)" ]
t_check "outside: no X-Sender" [ -z "$(t_header "$X" X-Sender)" ]
t_check "outside: the id appears nowhere in the copy" eval "! grep -q '${ID%%.*}' '$X'"

milter_stop || t_fail "milter exit status"
[ "$T_FAIL" -eq 0 ] || { tail -n 30 "$MTA_DIR/maillog" "$W/maillog"; }
t_summary
