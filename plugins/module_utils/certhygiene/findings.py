# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A finding: one rule failed on one file (and one certificate in it)."""

from __future__ import annotations

import re
from typing import Any

from ._record import Record

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)

# What must never reach a terminal or a log as is: C0/C1 controls and DEL (a newline forges a line, ESC starts a
# terminal sequence), Unicode line and paragraph separators, bidirectional overrides (text that reads other than it
# is), and the lone surrogates Python uses for the undecodable bytes of a file name (surrogateescape).
# Compiled on first need (~0.5 ms: most runs never print such a character).
_UNSAFE_CHARACTERS = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
_unsafe: re.Pattern[str] | None = None
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: object) -> str:
    """``text`` fit for one line of a terminal, a log or a report: control characters, line separators,
    bidirectional overrides and undecodable file-name bytes are written as escapes (``\\n``, ``\\x1b``,
    ``\\xff``). Every renderer passes paths, subjects and messages through it."""
    global _unsafe
    value = text if isinstance(text, str) else str(text)
    if value.isprintable():  # the usual text; none of the characters above is printable
        return value
    if _unsafe is None:
        _unsafe = re.compile(_UNSAFE_CHARACTERS)
    return _unsafe.sub(_escape, value)


class Finding(Record):
    """One rule failed on one file, and on one certificate or block in it when ``line`` is set.

    Treat as immutable (a Record: equal and hashed by its fields)."""

    __slots__ = _fields = ("rule_id", "severity", "path", "message", "hint", "line", "subject", "serial", "end_line")

    rule_id: str
    severity: str  # error | warning
    path: str
    message: str  # what is wrong; names the certificate (subject, serial) when there is one
    hint: str  # how to fix it
    line: int  # 1-based line of the offending PEM block, 0 when it is the whole file
    subject: str | None
    serial: str | None
    end_line: int  # last line of the offending PEM block (0: same as ``line``)

    def __init__(
        self,
        rule_id: str,
        severity: str,
        path: str,
        message: str,
        hint: str,
        line: int = 0,
        subject: str | None = None,
        serial: str | None = None,
        end_line: int = 0,
    ) -> None:
        self.rule_id = rule_id
        self.severity = severity
        self.path = path
        self.message = message
        self.hint = hint
        self.line = line
        self.subject = subject
        self.serial = serial
        self.end_line = end_line

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def text(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return safe_text(f"{where}: {self.severity} [{self.rule_id}] {self.message} Fix: {self.hint}")


def prepare_console() -> None:
    """For the command-line doors (CLI, hooks): whatever reaches stdout or stderr is printable (a character the
    terminal's encoding lacks, or an undecodable file name, becomes a backslash escape instead of a crash),
    libraries' warnings (cryptography's deprecation notes about odd certificates) are not shown to users, and the
    interpreter's last garbage collections at exit skip what the run built (see ``_freeze_at_exit``)."""
    import atexit
    import sys
    import warnings

    warnings.simplefilter("ignore")
    atexit.unregister(_freeze_at_exit)  # once, however often a door is called in one process (tests)
    atexit.register(_freeze_at_exit)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or exotic stream: leave it as it is
                pass


def _freeze_at_exit() -> None:
    """Move every object out of the cyclic garbage collector's reach as the interpreter exits: its last
    collections would walk the objects of cryptography and the engine for nothing (~10 ms of each run of a hook or
    the CLI). Objects are still freed and finalizers still run: only cycles are left to the end of the process."""
    import gc

    gc.freeze()
