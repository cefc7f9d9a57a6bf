#!/bin/sh
# Install Watchkeeper as a systemd service: a virtualenv in /opt/watchkeeper, a system
# user, the config in /etc/watchkeeper and the unit. Run as root from a source checkout:
#   sudo sh packaging/install.sh [EXTRAS]     e.g. EXTRAS=databases
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
extras=${1:-}

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
python3 -m venv /opt/watchkeeper
if [ -n "$extras" ]; then
  /opt/watchkeeper/bin/pip install --quiet "$src[$extras]"
else
  /opt/watchkeeper/bin/pip install --quiet "$src"
fi

getent group watchkeeper >/dev/null || groupadd --system watchkeeper
getent passwd watchkeeper >/dev/null ||
  useradd --system --gid watchkeeper --home-dir /var/lib/watchkeeper --shell /usr/sbin/nologin watchkeeper
# Reading the auth log (logins check) needs the adm group on Debian.
getent group adm >/dev/null && usermod -a -G adm watchkeeper || true

install -d -m 0750 -o root -g watchkeeper /etc/watchkeeper
[ -e /etc/watchkeeper/config.yaml ] ||
  install -m 0640 -o root -g watchkeeper "$src/config.example.yaml" /etc/watchkeeper/config.yaml
install -d -m 0750 -o watchkeeper -g watchkeeper /var/lib/watchkeeper
install -m 0644 "$src/packaging/watchkeeper.service" /etc/systemd/system/watchkeeper.service

/opt/watchkeeper/bin/watchkeeper validate -c /etc/watchkeeper/config.yaml
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now watchkeeper.service
  echo "watchkeeper is running: journalctl -u watchkeeper -f"
else
  echo "installed; no systemd running here, start it with:"
  echo "  /opt/watchkeeper/bin/watchkeeper run -c /etc/watchkeeper/config.yaml"
fi
