"""`read_only_directory`: a data directory nothing can be added to, as a user's would be.

Modes do not stop root: as root the directory gets the immutable attribute
(`chattr +i`: no entry made or removed in it, by anyone) instead of mode
0500. The test is skipped, with the reason, where neither works (a file
system without the attribute).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["read_only_directory"]


@contextmanager
def read_only_directory(path: Path) -> Iterator[Path]:
    """`path` read-only while the block runs (its files keep their modes); `path`."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o500)
        try:
            yield path
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    made = chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
    if not chattr or not made or made.returncode != 0:
        pytest.skip(f"cannot make {path} read-only as root: no immutable attribute here")
    try:
        probe = path / "probe"
        with pytest.raises(PermissionError):
            probe.touch()
        yield path
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
