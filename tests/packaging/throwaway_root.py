"""A throw-away copy of this machine's root: an overlay over / in a private mount namespace.

Every command runs in a fresh ``unshare --mount --net`` with the same upper layer, so what
one command installs the next one sees, and the real / never changes. The network
namespace has only its own loopback: nothing run inside reaches the test machine's ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

#: This checkout, seen as /run/source inside the root.
SOURCE = Path(__file__).resolve().parents[2]

#: Mounts the overlay, the kernel file systems and the package folder, then chroots.
_ENTER = r"""
set -eu
d=$1; source=$2; shift 2
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$d/root"
mount -t proc proc "$d/root/proc"
mount --rbind /dev "$d/root/dev"
mount -t tmpfs tmpfs "$d/root/tmp"
mount -t tmpfs tmpfs "$d/root/run"
mkdir "$d/root/run/packages"
mount --bind "$d/packages" "$d/root/run/packages"
mkdir "$d/root/run/source"
mount --bind "$source" "$d/root/run/source"
ip link set lo up
cd "$d/root"
exec chroot "$d/root" /bin/sh -c "$@"
"""

TOOLS = ("unshare", "mount", "chroot", "ip", "dpkg", "adduser")


def require(tool: str) -> str:
    """The tool's path; a missing tool fails the test in CI and skips it elsewhere."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_root() -> None:
    """Skip where a throw-away root cannot be made: not root, and not in CI."""
    if os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("a throw-away root needs root (mount namespaces, overlayfs, chroot)")
    for tool in TOOLS:
        require(tool)


@dataclass(frozen=True)
class ThrowawayRoot:
    """An overlay of / under ``base``; ``packages`` is /run/packages inside it, this
    checkout /run/source."""

    base: Path

    @classmethod
    def make(cls, base: Path) -> ThrowawayRoot:
        """Lay out the layers of a new root in ``base`` (an empty folder on a real disk)."""
        for sub in ("upper", "work", "root", "packages"):
            (base / sub).mkdir(parents=True)
        return cls(base)

    @property
    def packages(self) -> Path:
        """The folder seen as /run/packages inside the root."""
        return self.base / "packages"

    def sh(self, script: str, *, check: bool = True,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``script`` with /bin/sh inside the root, as root; fail on non-zero if check."""
        out = subprocess.run(
            ["unshare", "--mount", "--net", "--propagation", "private",
             "sh", "-c", _ENTER, "enter", str(self.base), str(SOURCE), script],
            capture_output=True, text=True, check=False, timeout=300,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                 "DEBIAN_FRONTEND": "noninteractive", **(env or {})})
        if check and out.returncode != 0:
            raise AssertionError(
                f"in the throw-away root, exit {out.returncode}: {script}\n"
                f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}")
        return out

    def exists(self, path: str) -> bool:
        """Whether ``path`` (absolute, inside the root) exists there."""
        return self.sh(f"test -e {path} || test -L {path}", check=False).returncode == 0

    def stat(self, path: str) -> str:
        """``mode owner:group`` of ``path`` inside the root, e.g. ``640 root:watchkeeper``."""
        return self.sh(f"stat -c '%a %U:%G' {path}").stdout.strip()
