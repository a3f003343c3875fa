# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what the user gave, safely: regular files only, never more than a limit, never a hang.

Every door reads its inputs through here. A FIFO, a device or a socket is never read (a FIFO
would block the reader forever, ``/dev/zero`` would fill the memory); it is reported as not a
regular file. A file larger than the limit is not read past the limit. The file is opened with
``O_NONBLOCK`` so that opening a FIFO cannot block either, and the type is taken from the open
descriptor (``fstat``), so a name swapped for a FIFO between a check and the open is caught too.
"""

from __future__ import annotations

import os
import re
import stat

# Certificates, chains and keys are a few KiB; a whole CA store is under 1 MiB.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: A policy file is a few dozen lines.
POLICY_MAX_BYTES = 1024 * 1024
#: A vault password file holds one line.
PASSWORD_MAX_BYTES = 64 * 1024
_SIZE = re.compile(r"^\s*([0-9]+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_CHUNK = 1 << 16
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)  # no newline translation on Windows
)


class InputError(Exception):
    """An input that cannot be read; ``reason`` says why, in words for the user (no path)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotRegularFile(InputError):
    """A FIFO, device, socket or folder: never read."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"not a regular file ({kind}); only regular files are read")
        self.kind = kind


class TooLarge(InputError):
    """A regular file larger than the limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the file is larger than the size limit ({size} bytes > {format_size(limit)}), so it was not read; "
            "certificates and keys are a few KiB: raise the limit (--max-file-size, or max_file_size in the policy) "
            "only if this really is TLS material"
        )
        self.size = size
        self.limit = limit


class Unreadable(InputError):
    """The operating system refused to open or read it."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"cannot read the file: {exc.strerror or exc.__class__.__name__}")
        self.errno = exc.errno


def parse_size(value: str | int) -> int:
    """A size in bytes from ``16M``, ``512k``, ``1G``, ``4096`` (binary units; a ``B``/``iB`` ending is allowed).

    Raises ``ValueError`` with a sentence for the user."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}; write a number of bytes or one with k, M or G (e.g. 16M)")
    if isinstance(value, int):
        number = value
    else:
        match = _SIZE.match(str(value))
        if match is None:
            raise ValueError(f"not a size: {value!r}; write a number of bytes or one with k, M or G (e.g. 16M)")
        number = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if number <= 0:
        raise ValueError(f"the size must be more than 0 bytes, not {value!r}")
    return number


def format_size(size: int) -> str:
    """``16777216`` -> ``16 MiB``; sizes that are no whole unit stay in bytes."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def file_kind(mode: int) -> str:
    """A word for a file type, for messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _open_regular(path: str) -> tuple[int, int]:
    """An open descriptor of ``path`` and its size; raises ``InputError`` unless it is a regular file."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except IsADirectoryError as exc:
        raise NotRegularFile("a folder") from exc
    except OSError as exc:
        raise Unreadable(exc) from exc
    try:
        info = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        raise Unreadable(exc) from exc
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotRegularFile(file_kind(info.st_mode))
    return fd, info.st_size


def read_regular(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    Raises ``NotRegularFile``, ``TooLarge`` or ``Unreadable`` (all ``InputError``). A file that grows
    past the limit while it is read is ``TooLarge`` too.
    """
    fd, size = _open_regular(path)
    try:
        if size > max_bytes:
            raise TooLarge(size, max_bytes)
        chunks = []
        total = 0
        try:
            # One read of the size fstat gave, plus a byte: a short read is the end of the file (one system
            # call for nearly every file, and no 64 KiB buffer for a 2 KiB file); a file that grew reads on.
            first = os.read(fd, size + 1)
            if len(first) <= size:
                return first
            chunks.append(first)
            total = len(first)
            if total > max_bytes:
                raise TooLarge(total, max_bytes)
            while chunk := os.read(fd, _CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise TooLarge(total, max_bytes)
                chunks.append(chunk)
        except OSError as exc:
            raise Unreadable(exc) from exc
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_readable(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Raise what ``read_regular`` would raise before reading (not a regular file, too large, unreadable)."""
    fd, size = _open_regular(path)
    os.close(fd)
    if size > max_bytes:
        raise TooLarge(size, max_bytes)


def read_head(path: str, count: int) -> bytes | None:
    """The first ``count`` bytes of the regular file ``path``; None for anything that is not one or cannot be read."""
    try:
        fd, size = _open_regular(path)
    except InputError:
        return None
    try:
        # No larger buffer than the file: a 1 MiB read of a small file costs the allocation (documents' pre-scan).
        return os.read(fd, min(count, size) if size > 0 else count)
    except OSError:
        return None
    finally:
        os.close(fd)
