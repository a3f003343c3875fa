# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A finding: one rule failed on one file (and one certificate in it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str  # error | warning
    path: str
    message: str  # what is wrong; names the certificate (subject, serial) when there is one
    hint: str  # how to fix it
    line: int = 0  # 1-based line of the offending PEM block, 0 when it is the whole file
    subject: str | None = None
    serial: str | None = None
    end_line: int = 0  # last line of the offending PEM block (0: same as ``line``)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity} [{self.rule_id}] {self.message} Fix: {self.hint}"
