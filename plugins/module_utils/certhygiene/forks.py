# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Forks that send one result back through a pipe: the walk a command starts before its imports
(``layout.BackgroundWalk``) and the workers of a check's process pool (``check._run_forked``).

Each fork writes its result (``send_all``) and ends with ``os._exit``; the command reads it to the end
(``read_all``). The standard library's ``os``, ``sys`` and (on Linux, when a pipe is widened) ``fcntl`` only:
``layout`` imports this module at start-up.
"""

from __future__ import annotations

import os
import sys


def fork_with_pipe() -> tuple[int, int] | None:
    """``os.fork()`` with a pipe from the fork to this process: (pid, end), the end being the pipe's write end in the
    fork (pid 0) and its read end here (the other end is closed on each side); None when no fork could be made."""
    results, sink = os.pipe()
    widen_pipe(sink)
    try:
        pid = os.fork()
    except OSError:
        os.close(results)
        os.close(sink)
        return None
    os.close(results if pid == 0 else sink)
    return pid, sink if pid == 0 else results


def send_all(pipe: int, data: bytes) -> None:
    """Write all of ``data`` to ``pipe`` (a write to a pipe may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(pipe, view) :]


def read_all(pipe: int) -> bytes:
    """Everything ``pipe`` gives until its write end is closed."""
    chunks = []
    while chunk := os.read(pipe, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def widen_pipe(pipe: int) -> None:
    """Let the pipe hold up to 1 MiB (Linux; the most an unprivileged process may ask), so a fork writes what it
    sends (the walk of ~8,000 files, a pool worker's reports) at once instead of waiting for each 64 KiB to be
    read."""
    if not sys.platform.startswith("linux"):
        return
    import fcntl

    try:
        fcntl.fcntl(pipe, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)  # the name is Python 3.10's
    except OSError:  # a lower limit (/proc/sys/fs/pipe-max-size): the pipe stays as it is
        pass
