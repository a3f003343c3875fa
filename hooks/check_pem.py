# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit hook `check-pem`: certificates, chains and keys must be clean PEM (no DER, PKCS#12, broken armour or stray text)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certhygiene.hooks._common import run_hook

RULES: frozenset[str] | None = frozenset({"pem.encoding"})


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog="check-pem", description=__doc__ or "", rules=RULES)


if __name__ == "__main__":
    sys.exit(main())
