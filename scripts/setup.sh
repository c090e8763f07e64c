#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (real apps, sshd, a real browser and the real stores) when they are
# missing. Called by `npm test` and by .ci/run; safe to run again. Without root (or sudo) it only
# says what is missing: the tests that need those programs then say why they skip.
set -euo pipefail
need=()
command -v jupyter-notebook >/dev/null 2>&1 || need+=(jupyter-notebook)
[ -f /usr/lib/python3/dist-packages/ipykernel/__init__.py ] || need+=(python3-ipykernel)
[ -x /usr/bin/chromium ] || need+=(chromium)
# The production stores, started on loopback by the tests (test/support/infra).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# The `ssh` template runs Debian's sshd; the tunnel tests drive it with the ssh and scp clients.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v scp >/dev/null 2>&1 || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "setup: missing Debian packages: ${need[*]} (run as root: apt-get install -y ${need[*]})" >&2
  exit 0
fi
echo "setup: installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# apt-get update once per machine boot is enough; its lists live in /var/lib/apt/lists.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then $SUDO apt-get update -qq; fi
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
