# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit hook `forbid-encrypted-private-keys`: passphrase-protected private keys cannot be imported.

PKCS#8 encrypted, Proc-Type 4,ENCRYPTED and encrypted OpenSSH keys are all refused.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certhygiene.hooks._common import run_hook

RULES: frozenset[str] | None = frozenset({"key.encrypted"})


def main(argv: Sequence[str] | None = None) -> int:
    return run_hook(argv, prog="forbid-encrypted-private-keys", description=__doc__ or "", rules=RULES)


if __name__ == "__main__":
    sys.exit(main())
