# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write files so that a reader sees the old content or the new, never half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

KEY_MODE = 0o600
PUBLIC_MODE = 0o644


def write_atomic(path: str, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    The temporary file is created with ``mode`` already set, so a key is never
    readable by others, not even for an instant.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def backup_file(path: str) -> str | None:
    """Copy ``path`` beside itself with a timestamp (as Ansible's ``backup`` does); return the copy's path."""
    if not os.path.exists(path):
        return None
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S")
    backup = f"{path}.{os.getpid()}.{stamp}~"
    shutil.copy2(path, backup)
    return backup


def read_optional(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
