# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit hook `check-cert-key-pair`: a private key must belong to the certificate next to it (x.crt / x.key)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certhygiene.hooks._common import run_hook

RULES: frozenset[str] | None = frozenset({"pair.mismatch"})


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog="check-cert-key-pair", description=__doc__ or "", rules=RULES)


if __name__ == "__main__":
    sys.exit(main())
