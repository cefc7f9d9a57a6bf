#!/bin/sh
# Install Watchkeeper as a systemd service where there is no Debian package: a venv in
# /opt/watchkeeper, a system user, the config in /etc/watchkeeper and the unit. Run as root
# from a source checkout; running it again changes only what differs, and says so.
#   sudo sh packaging/install.sh [EXTRAS]           e.g. EXTRAS=databases
#   sudo sh packaging/install.sh --uninstall [--purge]
# PYTHON=/path/to/python3 picks the interpreter (default: python3 on PATH). --uninstall
# keeps the config and the state; --purge removes them too. The user watchkeeper stays.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
venv=/opt/watchkeeper
unit=/etc/systemd/system/watchkeeper.service
dropin=/etc/systemd/system/watchkeeper.service.d/no-adm.conf
link=/usr/local/bin/watchkeeper
changed=0

say() { echo "install.sh: $*"; }
did() { changed=1; say "$*"; }
die() { echo "install.sh: $*" >&2; exit 1; }
running_systemd() { [ -d /run/systemd/system ]; }

[ "$(id -u)" = 0 ] || die "run it as root (sudo sh $0 $*)"

uninstall() {
  if running_systemd && systemctl is-enabled --quiet watchkeeper.service 2>/dev/null; then
    systemctl disable --now watchkeeper.service && did "stopped and disabled watchkeeper.service"
  elif running_systemd && systemctl is-active --quiet watchkeeper.service; then
    systemctl stop watchkeeper.service && did "stopped watchkeeper.service"
  fi
  for f in "$unit" "$dropin" "$link"; do
    if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f"; did "removed $f"; fi
  done
  [ -d "${dropin%/*}" ] && rmdir "${dropin%/*}" 2>/dev/null || true
  if [ -d "$venv" ]; then rm -rf "$venv"; did "removed $venv"; fi
  if [ "$1" = purge ]; then
    for d in /etc/watchkeeper /var/lib/watchkeeper; do
      if [ -d "$d" ]; then rm -rf "$d"; did "removed $d"; fi
    done
  else
    say "kept /etc/watchkeeper and /var/lib/watchkeeper (--purge removes them)"
  fi
  running_systemd && [ "$changed" = 1 ] && systemctl daemon-reload
  [ "$changed" = 1 ] || say "nothing to remove: watchkeeper was not installed"
  exit 0
}

case "${1:-}" in
  --uninstall)
    case "${2:-}" in
      "") uninstall keep ;;
      --purge) uninstall purge ;;
      *) die "unknown argument: $2" ;;
    esac ;;
  -*) die "unknown option: $1 (EXTRAS, or --uninstall [--purge])" ;;
esac
extras=${1:-}

# A path's "mode owner:group", to set it only when it differs.
dir() {
  want="$2 $3"
  if [ ! -d "$1" ]; then
    install -d -m "$2" -o "${3%:*}" -g "${3#*:}" "$1"; did "created $1"
  elif [ "$(stat -c '%a %U:%G' "$1")" != "$want" ]; then
    chmod "$2" "$1"; chown "$3" "$1"; did "set $1 to $want"
  fi
}

# The user first: the interpreter must be one it can run.
if ! getent group watchkeeper >/dev/null; then
  groupadd --system watchkeeper; did "created the group watchkeeper"
fi
if ! getent passwd watchkeeper >/dev/null; then
  useradd --system --gid watchkeeper --home-dir /var/lib/watchkeeper \
    --shell /usr/sbin/nologin watchkeeper
  did "created the user watchkeeper"
fi

python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "$python not found: install python3 (3.11 or newer) with its venv module"
# The venv links to the real interpreter, not to a shim in front of it.
real=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable))') ||
  die "$python does not run"
if ! runuser -u watchkeeper -- "$real" -c 'import sys; assert sys.version_info >= (3, 11)' \
    2>/dev/null; then
  die "the user watchkeeper cannot run $real (it must be readable and executable by that user, in directories it can enter, and Python 3.11 or newer): an interpreter under a home directory such as /root/.pyenv is not. Install a system python3 (e.g. apt install python3 python3-venv, dnf install python3) or point PYTHON= at one, then run this again."
fi

# The venv: rebuilt only when the sources, the extras or the interpreter changed.
stamp=$( (echo "$real $extras"; cat "$src/pyproject.toml"; cd "$src" &&
  find agent checks -name '*.py' | LC_ALL=C sort | xargs cat) | sha256sum | cut -c1-16)
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$venv"
  "$real" -m venv "$venv"
  # From a copy, as build-deb.sh does: pip builds a local directory in place, and would
  # leave build/ and an egg-info (a second "watchkeeper" for Python to find) in the checkout.
  copy=$(mktemp -d)
  trap 'rm -rf "$copy"' EXIT
  cp -R "$src/pyproject.toml" "$src/README.md" "$src/agent" "$src/checks" "$copy/"
  if [ -n "$extras" ]; then
    "$venv/bin/pip" install --quiet "$copy[$extras]"
  else
    "$venv/bin/pip" install --quiet "$copy"
  fi
  rm -rf "$copy"
  echo "$stamp" >"$venv/.installed"
  did "installed the agent in $venv"
fi
if [ "$(readlink "$link" 2>/dev/null)" != "$venv/bin/watchkeeper" ]; then
  install -d /usr/local/bin
  ln -sfn "$venv/bin/watchkeeper" "$link"; did "linked $link"
fi

dir /etc/watchkeeper 750 root:watchkeeper
if [ ! -e /etc/watchkeeper/config.yaml ]; then
  sh "$src/packaging/packaged-config.sh" >/etc/watchkeeper/config.yaml.new
  chmod 0640 /etc/watchkeeper/config.yaml.new
  chown root:watchkeeper /etc/watchkeeper/config.yaml.new
  mv /etc/watchkeeper/config.yaml.new /etc/watchkeeper/config.yaml
  did "wrote /etc/watchkeeper/config.yaml"
fi
dir /var/lib/watchkeeper 750 watchkeeper:watchkeeper

unit_changed=0
if ! cmp -s "$src/packaging/watchkeeper.service" "$unit"; then
  install -m 0644 "$src/packaging/watchkeeper.service" "$unit"; did "installed $unit"
  unit_changed=1
fi
# The unit reads the auth log through the group adm; where there is none, it goes without.
if ! getent group adm >/dev/null && [ ! -e "$dropin" ]; then
  install -d "${dropin%/*}"
  printf '[Service]\nSupplementaryGroups=\n' >"$dropin"
  did "no group adm here: the logins check cannot read the auth log ($dropin)"
  unit_changed=1
fi

"$venv/bin/watchkeeper" validate -c /etc/watchkeeper/config.yaml >/dev/null ||
  die "/etc/watchkeeper/config.yaml does not validate (see above); fix it and run this again"
if running_systemd; then
  [ "$unit_changed" = 0 ] || systemctl daemon-reload
  if ! systemctl is-enabled --quiet watchkeeper.service; then
    systemctl enable --quiet watchkeeper.service; did "enabled watchkeeper.service"
  fi
  if ! systemctl is-active --quiet watchkeeper.service; then
    systemctl start watchkeeper.service; did "started watchkeeper.service"
  elif [ "$changed" = 1 ]; then
    systemctl restart watchkeeper.service; did "restarted watchkeeper.service"
  fi
  [ "$changed" = 1 ] && say "watchkeeper is running: journalctl -u watchkeeper -f"
else
  say "no systemd running here; start the agent with:"
  say "  runuser -u watchkeeper -- $link run -c /etc/watchkeeper/config.yaml"
fi
[ "$changed" = 1 ] || say "already installed and up to date: nothing changed"
