# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit hook `certhygiene`: every rule of the policy (.certhygiene.yaml, or the seed profile) at once."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certhygiene.hooks._common import run_hook

RULES: frozenset[str] | None = None


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog="certhygiene", description=__doc__ or "", rules=RULES)


if __name__ == "__main__":
    sys.exit(main())
