# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pre-commit hook `forbid-plaintext-private-keys` (opt-in): private keys committed outside an Ansible Vault.

A deployment needs its private key unencrypted (the seed's rule), so a repository that
keeps keys must protect them another way: Ansible Vault. This hook blocks every
unencrypted private key (PEM of any format, OpenSSH, DER; also inline in YAML or any
other text file) that is not inside a vault file; vaulted keys pass, with or without
a vault password. The rule is ``key.plaintext`` of the engine's catalog.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certhygiene.hooks._common import run_hook

RULES: frozenset[str] | None = frozenset({"key.plaintext"})


def main(argv: Sequence[str] | None = None) -> int:
    # Every file: a key may stand inline anywhere in a YAML or other text file, not only at the top.
    return run_hook(argv, prog="forbid-plaintext-private-keys", description=__doc__ or "", rules=RULES, select=None)


if __name__ == "__main__":
    sys.exit(main())
