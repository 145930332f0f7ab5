#!/bin/sh
# Run by tools/pkg/check.sh as root inside a throw-away overlay of this machine (a mount
# namespace; nothing reaches the real root): installs /root/liqolet.deb with dpkg for
# real and checks what the maintainer scripts and the unit did. Prints RESULT lines.
export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
r() { echo "RESULT $*"; }
t() { # t DESCRIPTION COMMAND...
    d=$1; shift
    if "$@" > /tmp/t.out 2>&1; then r ok "$d"; else r FAIL "$d"; sed 's/^/    /' /tmp/t.out; fi
}
# Start from a machine without the package or its user (in the overlay only).
dpkg -P liqolet >/dev/null 2>&1
userdel liqolet >/dev/null 2>&1; groupdel liqolet >/dev/null 2>&1

t "dpkg -i installs the package (postinst ran)" dpkg -i /root/liqolet.deb
pw=$(getent passwd liqolet)
uid=$(echo "$pw" | cut -d: -f3)
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && [ "$(echo "$pw" | cut -d: -f6)" = /var/lib/liqolet ] \
    && r ok "postinst created the system user liqolet (uid $uid, home /var/lib/liqolet)" \
    || r FAIL "system user: '$pw'"
[ "$(stat -c '%U:%G %a' /etc/liqolet)" = "root:liqolet 750" ] \
    && r ok "/etc/liqolet is root:liqolet 0750" || r FAIL "/etc/liqolet is $(stat -c '%U:%G %a' /etc/liqolet)"
[ -L /etc/systemd/system/multi-user.target.wants/liqolet.service ] \
    && r ok "deb-systemd-helper enabled liqolet.service (multi-user.target.wants)" \
    || r FAIL "liqolet.service not enabled"
t "dpkg --verify: installed files match the package's md5sums" sh -c '[ -z "$(dpkg --verify liqolet)" ]'
systemd-analyze verify /lib/systemd/system/liqolet.service > /tmp/v.out 2>&1
rc=$?
if [ $rc = 0 ] && [ ! -s /tmp/v.out ]; then
    r ok "systemd-analyze verify liqolet.service: no finding (ExecStart, man page, directives)"
else r FAIL "systemd-analyze verify (exit $rc)"; sed 's/^/    /' /tmp/v.out; fi
t "/usr/bin/liqolet version runs" sh -c '/usr/bin/liqolet version | grep -q "^C library: *musl .*(static)"'
t "/usr/bin/liqoletctl --help runs" sh -c '/usr/bin/liqoletctl --help | grep -q "^Usage: liqoletctl"'
# The packaged config parses as the liqolet user: run stops at the missing kubeconfig
# (exit 1), not at the configuration (exit 2).
runuser -u liqolet -- /usr/bin/liqolet run --config /etc/liqolet/config > /tmp/run.out 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "/etc/liqolet/home.kubeconfig" /tmp/run.out; then
    r ok "liqolet run --config /etc/liqolet/config as user liqolet: config accepted, stops at the missing kubeconfig"
else r FAIL "liqolet run as liqolet: exit $rc"; sed 's/^/    /' /tmp/run.out; fi
echo "# an operator's edit" >> /etc/liqolet/config
t "dpkg -i again (upgrade path: postinst configure with a version)" dpkg -i --force-confold /root/liqolet.deb
grep -q "^# an operator's edit" /etc/liqolet/config && r ok "the edited conffile survives the upgrade" \
    || r FAIL "conffile edit lost"
t "dpkg -r removes the package" dpkg -r liqolet
[ ! -e /usr/bin/liqolet ] && [ -f /etc/liqolet/config ] && getent passwd liqolet >/dev/null \
    && r ok "after remove: binary gone, conffile and user kept" || r FAIL "after remove"
mkdir -p /var/lib/liqolet && touch /var/lib/liqolet/kubelet.crt
t "dpkg -P purges it" dpkg -P liqolet
[ ! -e /etc/liqolet/config ] && [ ! -e /var/lib/liqolet ] && [ ! -e /etc/systemd/system/multi-user.target.wants/liqolet.service ] \
    && r ok "after purge: conffile, state directory and enablement gone" || r FAIL "after purge: $(ls -d /etc/liqolet/config /var/lib/liqolet /etc/systemd/system/multi-user.target.wants/liqolet.service 2>/dev/null)"
r ok "all steps ran"
