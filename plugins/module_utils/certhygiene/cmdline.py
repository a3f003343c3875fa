# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the command-line doors (the ``certhygiene`` CLI and the pre-commit hooks) share, so that neither door
imports the other: the ``--profile`` and ``--max-file-size`` options and reading an Ansible vault password file.

Nothing here prints: the doors say what went wrong, with their own name in front."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

# argparse and the other engine units are imported where they are used: a hook's fast path (no argparse) reads
# VAULT_ENV from here, and building a parser costs no more than the policy profiles' names (no cryptography).
VAULT_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"


class PasswordFileError(ValueError):
    """A vault password file that cannot be used; the message names the file and the fix."""


def size_argument(value: str) -> int:
    """argparse type of ``--max-file-size``: ``16M``, ``512k``, a number of bytes."""
    import argparse

    from .inputs import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_profile(parser: argparse.ArgumentParser) -> None:
    # No argparse choices: an unknown name gets the policy's own message (which names the valid ones), as in a
    # policy file.
    from .policy import DEFAULT_PROFILE, PROFILES

    others = [name for name in PROFILES if name != DEFAULT_PROFILE]
    parser.add_argument(
        "--profile",
        help=f"policy profile: {DEFAULT_PROFILE} (default), {', '.join(others[:-1])} or {others[-1]}",
    )


def add_max_file_size(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-file-size",
        type=size_argument,
        metavar="SIZE",
        help="files larger than this are not read, and say so (e.g. 512k, 16M; default: the policy's "
        "max_file_size, 16M)",
    )


def read_vault_password(path: str) -> bytes:
    """An Ansible vault password file: its first line, or the output of the file when it is executable."""
    import subprocess  # nosec B404 - an executable vault password file is run as Ansible runs it

    from .inputs import PASSWORD_MAX_BYTES, InputError, read_regular

    fix = f"Fix --vault-password-file or ${VAULT_ENV}."
    try:
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            command = [os.path.abspath(path)]
            data = subprocess.run(command, capture_output=True, check=True, timeout=60).stdout  # nosec B603
        else:
            data = read_regular(path, PASSWORD_MAX_BYTES)
    except InputError as exc:
        raise PasswordFileError(f"cannot read the vault password file {path}: {exc.reason}. {fix}") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise PasswordFileError(
            f"cannot read the vault password file {path} ({exc.__class__.__name__}). {fix}"
        ) from None
    password = data.splitlines()[0].strip() if data.strip() else b""
    if not password:
        raise PasswordFileError(f"the vault password file {path} is empty. {fix}")
    return password
