#!/bin/bash
# packages.sh SOURCE_DIR - the Debian packages end to end:
#   1. copy the tree (tracked and new files, no build dirs) into $T and run
#      dpkg-buildpackage -b -us -uc there (it writes ../*.deb: never into
#      the source tree, whose clone must stay clean);
#   2. lintian on the .changes: any E: line fails;
#   3. install both .debs on this machine; check the key postinst made,
#      the conffile, that no unit was enabled or started, and run
#      mailstate-milter -n and mailstatectl check on the installed config;
#   4. dpkg --purge both and check that no file they listed is left.
# Machine-wide: a lock serialises runs from several worktrees, and an exit
# trap purges whatever this run installed.
set -u
src=$1
. "$src/tests/lib/common.sh"

for tool in dpkg-buildpackage lintian dh fakeroot; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (installs packages)"; exit 77; }

exec 9> /var/lock/mailstate-debian-test.lock
flock -w 2000 9 || { echo "FAIL: another packages test holds the lock"; exit 1; }
for p in mailstate mailstate-dovecot; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed"; then
        echo "SKIP: $p is installed on this machine; not touching it"
        exit 77
    fi
done
if [ -e /etc/mailstate ] || [ -e /var/lib/mailstate ]; then
    echo "SKIP: /etc/mailstate or /var/lib/mailstate exists (not ours); not touching it"
    exit 77
fi

t_init debian-packages
INSTALLED=
purge_ours() {
    [ -n "$INSTALLED" ] || return 0
    dpkg --purge mailstate-dovecot mailstate >/dev/null 2>&1
    INSTALLED=
}
t_defer purge_ours

# 1. build from a copy
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree=$T/build/mailstate-$ver
mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    # tracked and new files that exist (not ignored ones such as build/)
    (cd "$src" && git ls-files -co --exclude-standard -z | grep -zv '^build/' |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp --parents -t "$tree") || t_fail "copy the tree"
else
    tar -C "$src" --exclude=./build --exclude=./.git -cf - . | tar -C "$tree" -xf - ||
        t_fail "copy the tree"
fi
t_check "copy has debian/rules" test -x "$tree/debian/rules"
(cd "$tree" && DEB_BUILD_OPTIONS="parallel=2 nocheck" nice -n 10 \
    dpkg-buildpackage -b -us -uc > "$T/build.log" 2>&1)
rc=$?
t_check "dpkg-buildpackage -b -us -uc succeeds" test "$rc" = 0
[ "$rc" = 0 ] || { tail -40 "$T/build.log" >&2; t_summary; exit 1; }
changes=$(ls "$T"/build/mailstate_"$ver"_*.changes)
main_deb=$(ls "$T"/build/mailstate_"$ver"_*.deb)
dove_deb=$(ls "$T"/build/mailstate-dovecot_"$ver"_*.deb)
t_check "two packages built" test -s "$main_deb" -a -s "$dove_deb"
t_check "source tree untouched (no debian/.debhelper, no ../*.deb)" \
    bash -c "[ ! -e '$src/debian/.debhelper' ] && ! ls '$src'/../mailstate_*.deb >/dev/null 2>&1"

# 2. lintian
nice -n 10 lintian "$changes" > "$T/lintian.log" 2>&1
if grep -q '^E:' "$T/lintian.log"; then
    t_fail "lintian reports errors:"
    grep '^E:' "$T/lintian.log" >&2
else
    t_ok "lintian: no E: line ($(grep -c '^W:' "$T/lintian.log") warnings)"
fi

# the package contents
dpkg-deb -c "$main_deb" > "$T/main.list"
for f in usr/sbin/mailstate-milter usr/sbin/mailstate-tracker usr/sbin/mailstatectl \
         etc/mailstate/mailstate.conf lib/systemd/system/mailstate-milter.service \
         lib/systemd/system/mailstate-tracker.service usr/lib/sysusers.d/mailstate.conf \
         usr/lib/tmpfiles.d/mailstate.conf usr/share/man/man8/mailstatectl.8.gz \
         usr/share/man/man5/mailstate.conf.5.gz \
         usr/share/bash-completion/completions/mailstatectl \
         usr/share/mailstate/www/index.html; do
    t_check "mailstate ships $f" grep -q " \./$f\$" "$T/main.list"
done
t_check "mailstate-dovecot ships the plugin" \
    bash -c "dpkg-deb -c '$dove_deb' | grep 'usr/lib/dovecot/modules/lib90_mailstate_plugin.so' >/dev/null"
t_check "mailstate-dovecot depends on the Dovecot ABI it was built for" \
    bash -c "dpkg-deb -f '$dove_deb' Depends | grep -q 'dovecot-abi-'"
t_check "the config is a conffile" \
    bash -c "dpkg-deb -I '$main_deb' conffiles | grep -qx /etc/mailstate/mailstate.conf"

# 3. install
INSTALLED=1
ok=
# apt waits for a dpkg lock another process holds (up to 20 min); every
# dependency is a build dependency or dovecot-core, so nothing is fetched
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o DPkg::Lock::Timeout=1200 "$main_deb" "$dove_deb" > "$T/install.log" 2>&1 && ok=1
t_check "apt-get install ./mailstate_*.deb ./mailstate-dovecot_*.deb" test -n "$ok"
[ -n "$ok" ] || { cat "$T/install.log" >&2; t_summary; exit 1; }
t_check "postinst made a 32-byte key, mode 600, owned by mailstate" \
    test "$(stat -c '%s %a %U' /etc/mailstate/system.key 2>/dev/null)" = "32 600 mailstate"
t_check "the mail log directory belongs to mailstate" \
    test "$(stat -c %U /var/lib/mailstate 2>/dev/null)" = mailstate
t_check "the config is readable by the mailstate group only" \
    test "$(stat -c '%a %G' /etc/mailstate/mailstate.conf)" = "640 mailstate"
t_check "no unit enabled" \
    bash -c "! ls /etc/systemd/system/*.wants/mailstate-* >/dev/null 2>&1"
# by executable: other tests may run mailstate daemons from their build dirs
installed_running() {
    local p
    for p in /proc/[0-9]*; do
        case $(readlink "$p/exe" 2>/dev/null) in /usr/sbin/mailstate-*) return 0 ;; esac
    done
    return 1
}
if installed_running; then t_fail "a daemon was started at install"; else t_ok "no daemon started"; fi
/usr/sbin/mailstate-milter -n > "$T/n.out" 2>&1
t_check "mailstate-milter -n accepts the installed config" test $? = 0
/usr/sbin/mailstate-tracker -n >> "$T/n.out" 2>&1
t_check "mailstate-tracker -n accepts it" test $? = 0
/usr/sbin/mailstatectl check > "$T/check.out" 2>&1
rc=$?
t_check "mailstatectl check passes on the installed config" test "$rc" = 0
[ "$rc" = 0 ] || cat "$T/check.out" >&2
/usr/sbin/mailstatectl status > "$T/status.out" 2>&1
t_check "mailstatectl status reads the (empty) installed mail log" \
    grep -Eq "^mails +0$" "$T/status.out"

# 4. purge
dpkg -L mailstate mailstate-dovecot > "$T/files" 2>/dev/null
t_check "dpkg -L lists the files" test -s "$T/files"
dpkg --purge mailstate-dovecot mailstate > "$T/purge.log" 2>&1
t_check "dpkg --purge both" test $? = 0
INSTALLED=
left=0
while IFS= read -r f; do
    [ -d "$f" ] && continue     # shared directories (/usr/sbin, ...) stay
    if [ -e "$f" ] || [ -L "$f" ]; then
        t_log "left behind: $f"
        left=$((left + 1))
    fi
done < "$T/files"
t_check "no file of the packages is left ($(wc -l < "$T/files") listed)" test "$left" = 0
t_check "/etc/mailstate and /var/lib/mailstate are gone" \
    test ! -e /etc/mailstate -a ! -e /var/lib/mailstate
t_summary
