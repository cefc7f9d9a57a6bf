#!/bin/sh
# Build the Debian package: the agent in a venv under /opt/watchkeeper with its pinned
# dependencies (packaging/requirements.txt) inside, so installing it needs no network.
#   packaging/build-deb.sh [--out DIR] [--cache DIR]
#   packaging/build-deb.sh --pin        regenerate packaging/requirements.txt
# --cache keeps the downloaded wheels and the built venv in DIR: a later build with the
# same DIR, sources and pins is offline and reuses the venv.
# Needs dpkg-deb and the python3 of the target release (with python3-venv); runs as any user.
set -eu
# The caller's Python environment must not leak into the venv built here (a PYTHONPATH
# naming a checkout makes pip take the agent as installed already).
unset PYTHONPATH PYTHONHOME
src=$(cd "$(dirname "$0")/.." && pwd)
deb=$src/packaging/debian
python=${PYTHON:-/usr/bin/python3}
out=$src/dist
cache=
pin=no
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --pin) pin=yes; shift ;;
    *) echo "build-deb.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The venv links to this exact interpreter, which the package then depends on.
python=/usr/bin/python$pyver
[ -x "$python" ] || { echo "build-deb.sh: $python is missing (install python$pyver)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ "$pin" = yes ]; then
  "$python" -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet "$src[databases]"
  { echo "# The agent's runtime dependencies, pinned: the Debian package's venv installs exactly these."
    echo "# Regenerate with: packaging/build-deb.sh --pin"
    "$work/venv/bin/pip" freeze --exclude watchkeeper
  } >"$src/packaging/requirements.txt"
  echo "wrote $src/packaging/requirements.txt"
  exit 0
fi

upstream=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/pyproject.toml")
version=$(sed -n '1s/^watchkeeper (\([^)]*\)).*/\1/p' "$deb/changelog")
case "$version" in
  "$upstream"-*) ;;
  *) echo "build-deb.sh: debian/changelog is at $version, pyproject.toml at $upstream" >&2; exit 1 ;;
esac
arch=$(dpkg --print-architecture)

# The venv is reused from the cache while this script, the sources and the pins are the same.
root=$work/root
venv=$root/opt/watchkeeper
mkdir -p "$root/opt"
[ -n "$cache" ] || cache=$work/cache
wheels=$cache/wheels
mkdir -p "$wheels"
key=$( (echo "$pyver"; cat "$0" "$src/pyproject.toml" "$src/packaging/requirements.txt" \
  "$src/packaging/build-requirements.txt"; cd "$src" &&
  find agent checks -name '*.py' -o -name py.typed | LC_ALL=C sort | xargs cat) |
  sha256sum | cut -c1-16)
if [ -d "$cache/venv-$key" ]; then
  cp -a "$cache/venv-$key" "$venv"
else
  # The venv, built where it is staged and then moved in name to /opt/watchkeeper. Its own
  # pip builds and installs the agent, then leaves with setuptools: neither is shipped.
  "$python" -m venv "$venv"
  pip="$venv/bin/pip --quiet --disable-pip-version-check"
  reqs="-r $src/packaging/requirements.txt -r $src/packaging/build-requirements.txt"
  # Wheels from the cache when it holds every pinned one, else downloaded once.
  # shellcheck disable=SC2086
  $pip download --no-index --find-links "$wheels" --only-binary=:all: -d "$wheels" $reqs \
      >/dev/null 2>&1 || $pip download --only-binary=:all: -d "$wheels" $reqs
  $pip install --no-index --no-compile --find-links "$wheels" \
    -r "$src/packaging/build-requirements.txt"
  # A copy, so that the build leaves nothing in the source tree.
  mkdir "$work/src"
  cp -R "$src/pyproject.toml" "$src/README.md" "$src/agent" "$src/checks" "$work/src/"
  $pip wheel --no-index --no-build-isolation --no-deps -w "$work/dist" "$work/src"
  $pip install --no-index --no-compile --find-links "$wheels" --find-links "$work/dist" \
    -r "$src/packaging/requirements.txt" "watchkeeper==$upstream"
  $pip uninstall --yes pip setuptools
  # Only the agent's command: the dependencies' own commands are not part of the package.
  find "$venv/bin" -type f ! -name watchkeeper -delete
  find "$venv" -name __pycache__ -prune -exec rm -rf {} +
  find "$venv/lib" -type f -exec chmod 0644 {} +
  sed -i "1s|^#!$venv/|#!/opt/watchkeeper/|" "$venv/bin/watchkeeper"
  sed -i "s|^command = .*|command = $python -m venv /opt/watchkeeper|" "$venv/pyvenv.cfg"
  rm -rf "$cache"/venv-*
  cp -a "$venv" "$cache/venv-$key"
fi
if grep -rqF "$work" "$venv"; then
  echo "build-deb.sh: the venv still names the build directory:" >&2
  grep -rlF "$work" "$venv" >&2
  exit 1
fi
# The newest glibc a bundled binary wheel asks for (manylinux_2_N) is the libc6 floor.
glibc=$("$venv/bin/python" - "$venv" <<'EOF'
import pathlib, re, sys
found = [(2, 17)]
for wheel in pathlib.Path(sys.argv[1]).glob("lib/python*/site-packages/*.dist-info/WHEEL"):
    for m in re.finditer(r"manylinux_(\d+)_(\d+)", wheel.read_text()):
        found.append((int(m[1]), int(m[2])))
print("%d.%d" % max(found))
EOF
)

# The rest of the file system.
install -D -m 0644 "$src/packaging/watchkeeper.service" "$root/lib/systemd/system/watchkeeper.service"
mkdir -p "$root/usr/bin"
ln -s /opt/watchkeeper/bin/watchkeeper "$root/usr/bin/watchkeeper"
install -d -m 0755 "$root/etc/watchkeeper"
sh "$src/packaging/packaged-config.sh" >"$root/etc/watchkeeper/config.yaml"
chmod 0640 "$root/etc/watchkeeper/config.yaml"
"$venv/bin/python" "$venv/bin/watchkeeper" validate -c "$root/etc/watchkeeper/config.yaml" >/dev/null
doc=$root/usr/share/doc/watchkeeper
install -D -m 0644 "$deb/copyright" "$doc/copyright"
install -m 0644 "$src/README.md" "$doc/README.md"
gzip -9n <"$deb/changelog" >"$doc/changelog.Debian.gz"
install -d "$root/usr/share/man/man1"
gzip -9n <"$deb/watchkeeper.1" >"$root/usr/share/man/man1/watchkeeper.1.gz"
install -D -m 0644 "$deb/lintian-overrides" "$root/usr/share/lintian/overrides/watchkeeper"
find "$root" -type d -exec chmod 0755 {} +
find "$root/usr/share" -type f -exec chmod 0644 {} +

# Control files.
install -d "$root/DEBIAN"
for script in postinst prerm postrm; do
  install -m 0755 "$deb/$script" "$root/DEBIAN/$script"
done
install -m 0644 "$deb/conffiles" "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@PYTHON@/python$pyver/" -e "s/@GLIBC@/$glibc/" "$deb/control" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
  LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

mkdir -p "$out"
package=$out/watchkeeper_${version}_$arch.deb
dpkg-deb --root-owner-group -Zgzip --build "$root" "$package" >/dev/null
echo "$package"
