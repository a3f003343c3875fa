# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit hook `check-cert-expiry`: certificates must be valid now and for at least the policy's minimum remaining days."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certhygiene.hooks._common import run_hook

RULES: frozenset[str] | None = frozenset({"cert.validity"})


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog="check-cert-expiry", description=__doc__ or "", rules=RULES)


if __name__ == "__main__":
    sys.exit(main())
