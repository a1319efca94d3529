#!/bin/bash
# install.sh BUILD_DIR SOURCE_DIR - "cmake --install" into a DESTDIR with a
# Debian-style prefix, then check the tree: binaries, sample config, systemd
# units (hardening present, paths substituted), sysusers/tmpfiles, man pages,
# MTA snippets; and that both daemons' -n accepts the installed sample config.
set -u
build=$1 src=$2
. "$src/tests/lib/common.sh"
t_init install
dest=$T/root

# Configure a copy of the build with the packaging prefix (/usr, /etc).
cmake -S "$src" -B "$T/build" -DCMAKE_INSTALL_PREFIX=/usr -DMAILSTATE_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=Release >/dev/null &&
cmake --build "$T/build" -j 2 >/dev/null &&
DESTDIR=$dest cmake --install "$T/build" >/dev/null
t_check "cmake --install into DESTDIR succeeds" test -d "$dest"

for f in usr/sbin/mailstate-milter usr/sbin/mailstate-tracker usr/sbin/mailstatectl; do
    t_check "$f is an executable" test -x "$dest/$f"
done
for f in etc/mailstate/mailstate.conf \
         lib/systemd/system/mailstate-milter.service \
         lib/systemd/system/mailstate-tracker.service \
         usr/lib/sysusers.d/mailstate.conf usr/lib/tmpfiles.d/mailstate.conf \
         usr/share/man/man8/mailstate-milter.8 usr/share/man/man8/mailstate-tracker.8 \
         usr/share/man/man5/mailstate.conf.5 \
         usr/share/man/man8/mailstatectl.8 \
         usr/share/bash-completion/completions/mailstatectl \
         usr/share/doc/mailstate/examples/postfix/main.cf.snippet \
         usr/share/doc/mailstate/examples/sendmail/mailstate.mc; do
    t_check "$f installed" test -s "$dest/$f"
done

for u in mailstate-milter mailstate-tracker; do
    unit=$dest/lib/systemd/system/$u.service
    for line in "ExecStart=/usr/sbin/$u -f -c /etc/mailstate/mailstate.conf" \
                User=mailstate ProtectSystem=strict StateDirectory=mailstate \
                RuntimeDirectory=mailstate NoNewPrivileges=yes PrivateTmp=yes \
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"; do
        t_check "$u.service has $line" grep -qxF "$line" "$unit"
    done
    t_check "$u.service has no unsubstituted @VARS@" sh -c "! grep -q @ '$unit'"
done

# Every key of the sample config is documented in mailstate.conf(5).
keys=$(sed -n 's/^[#;][[:space:]]*\([a-z_]*\)[[:space:]]*=.*/\1/p' "$dest/etc/mailstate/mailstate.conf" | sort -u)
t_check "the sample config lists keys" test -n "$keys"
for k in $keys; do
    t_check "mailstate.conf(5) documents $k" grep -q "^\.B.* $k\|^\.B $k\|^\.BR $k\|\\b$k\\b" "$dest/usr/share/man/man5/mailstate.conf.5"
done

# -n with the installed sample config: it names /etc/mailstate/system.key, so
# give the check one in a private mount namespace (an overlay over /etc;
# nothing on the machine changes).
mkdir -p "$T/up/mailstate" "$T/work"
head -c 32 /dev/urandom > "$T/up/mailstate/system.key"
chmod 600 "$T/up/mailstate/system.key"
cp "$dest/etc/mailstate/mailstate.conf" "$T/up/mailstate/mailstate.conf"
for d in mailstate-milter mailstate-tracker; do
    if unshare -m true 2>/dev/null; then
        out=$(unshare -m sh -c "mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/up,workdir=$T/work /etc &&
                                '$dest/usr/sbin/$d' -n -c /etc/mailstate/mailstate.conf" 2>&1)
        rc=$?
        [ $rc -eq 0 ] || t_log "$out"
        t_check "$d -n accepts the installed sample config" test $rc -eq 0
    else
        out=$("$dest/usr/sbin/$d" -n -c "$dest/etc/mailstate/mailstate.conf" 2>&1)
        t_check "$d -n: the only complaint is the missing key file" \
            sh -c "printf '%s\n' \"\$1\" | grep -v system.key | grep -qi error && exit 1 || exit 0" sh "$out"
    fi
done
t_summary
