#!/bin/sh
# Print the config that the package and install.sh put in /etc/watchkeeper/config.yaml:
# config.example.yaml with the service's state directory set, so that the CLI finds the
# same store as the service whoever runs it.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
config=$(sed 's|^  # state_dir: /var/lib/watchkeeper .*|  state_dir: /var/lib/watchkeeper  # the service'"'"'s StateDirectory, for the CLI too|' \
  "$src/config.example.yaml")
case "$config" in
  *"  state_dir: /var/lib/watchkeeper "*) printf '%s\n' "$config" ;;
  *) echo "packaged-config.sh: config.example.yaml has no state_dir line to set" >&2; exit 1 ;;
esac
