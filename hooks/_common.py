# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every pre-commit hook shares: its options, running the engine, printing findings.

A hook is a few lines: ``run_hook(argv, rules={...}, ...)``. The engine is imported
lazily so ``--help`` and option errors cost no cryptography import, and a hook run on
one file stays within 150 ms wall (python and cryptography take ~80 ms of it).

Output: one line per problem, ``path:line: severity [rule.id] message (names the
certificate by subject and serial) Fix: hint``, then a one-line summary. Findings
never carry key material. Exit 0 when nothing at or above ``--fail-on`` failed, 1 when
something did (or, with ``--fail-on-skipped``, a file was skipped), 2 for a usage error (a
bad policy file, an unreadable vault password file, a vault password that does not open a
vault file).

Files are selected as the CLI's folder walk selects them (``layout.is_candidate``: a known
extension, ``chain`` in the name, content opening with PEM armour, or a YAML/JSON document whose
bytes hold material markers), so the manifest passes every file and ordinary text or YAML costs one
read each, without the cryptography import.
Findings are those located in the files given: pre-commit may split the files into batches
run in parallel, and each finding is printed by the batch holding its file, once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from certhygiene.cmdline import VAULT_ENV, add_max_file_size, add_profile

if TYPE_CHECKING:
    import argparse

    from certhygiene.policy import Policy

VAULT_TIP = f" (pass --vault-password-file or set {VAULT_ENV} to check it)"


def build_parser(prog: str, description: str) -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("filenames", nargs="*", metavar="FILE", help="files to check (pre-commit passes them)")
    parser.add_argument(
        "--policy", metavar="FILE", help="policy file (default: .certhygiene.yaml in the current folder, if any)"
    )
    add_profile(parser)
    parser.add_argument(
        "--vault-password-file",
        metavar="FILE",
        default=os.environ.get(VAULT_ENV) or None,
        help=f"decrypt Ansible Vault files in memory with this password (default: ${VAULT_ENV}); "
        "without it vault files are skipped",
    )
    parser.add_argument(
        "--fail-on", choices=("error", "warning"), default="error", help="lowest severity that fails the hook"
    )
    parser.add_argument(
        "--fail-on-skipped",
        action="store_true",
        help="fail when a file was skipped (a vault file without a password ...): for pipelines that must see everything",
    )
    add_max_file_size(parser)
    return parser


# The options a hook's fast path reads itself (see quick_args); their argparse defaults.
_VALUE_OPTIONS = {"--policy": "policy", "--profile": "profile", "--vault-password-file": "vault_password_file"}
_FAIL_ON = ("error", "warning")


def quick_args(argv: Sequence[str]) -> Any:
    """The parsed arguments of the usual hook run (options first, then file names), or None for anything else.

    Importing argparse and building the parser costs ~8 ms of a ~30 ms hook run (argparse's formatter imports
    shutil, gettext, locale); pre-commit runs give options from the hook's ``args`` then file names. Whatever
    this does not read plainly (--help, an abbreviation, a bad value, an option after a file name, a name
    starting with ``-``) goes to argparse, which then gives the same result or the same error as always."""
    from types import SimpleNamespace

    args = SimpleNamespace(
        filenames=[],
        policy=None,
        profile=None,
        vault_password_file=os.environ.get(VAULT_ENV) or None,
        fail_on="error",
        fail_on_skipped=False,
        max_file_size=None,
    )
    items = list(argv)
    index = 0
    while index < len(items) and items[index].startswith("-"):
        option, equals, value = items[index].partition("=")
        if option == "--fail-on-skipped" and not equals:
            args.fail_on_skipped = True
            index += 1
            continue
        if option not in _VALUE_OPTIONS and option != "--fail-on":
            return None
        if not equals:
            if index + 1 >= len(items) or items[index + 1].startswith("-"):
                return None
            index += 1
            value = items[index]
        if option == "--fail-on":
            if value not in _FAIL_ON:
                return None
            args.fail_on = value
        else:
            setattr(args, _VALUE_OPTIONS[option], value)
        index += 1
    filenames = items[index:]
    if any(name.startswith("-") for name in filenames):
        return None
    args.filenames = filenames
    return args


def certificate_material(path: str) -> bool:
    """The hooks' file selection: the CLI folder walk's (``layout.is_candidate``)."""
    from certhygiene.layout import is_candidate

    return is_candidate(path)


def run_hook(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    rules: Collection[str] | None,
    select: Callable[[str], bool] | None = certificate_material,
) -> int:
    """Parse the hook's options, check the files with ``rules`` (None: the whole policy), print, return the exit code.

    ``select`` keeps the files worth checking among those pre-commit passes (None: every file)."""
    from certhygiene.findings import prepare_console, safe_text

    prepare_console()
    args = quick_args(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = build_parser(prog, description).parse_args(argv)
    filenames = [name for name in args.filenames if select is None or select(name)]
    if not filenames:
        return 0
    if not cryptography_usable(prog):
        return 2
    from certhygiene.check import check_paths

    policy = load_policy_or_none(args.policy, args.profile, prog, args.max_file_size)
    if policy is None:
        return 2
    password: bytes | None = None
    if args.vault_password_file:
        password = read_vault_password(args.vault_password_file, prog)
        if password is None:
            return 2
    try:
        report = check_paths(
            filenames,
            policy,
            root=os.getcwd(),
            rules=frozenset(rules) if rules is not None else None,
            vault_password=password,
        )
    except ValueError as exc:  # an unknown rule id: the hook and the engine disagree
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    for finding in report.findings:
        print(finding.text())
    for path, reason in report.skipped:
        locked = (path, reason) in report.locked
        print(safe_text(f"{path}: skipped: {reason}") + (VAULT_TIP if locked else ""))
    for path, message in report.input_errors:
        print(safe_text(f"{path}: error: {message}"))
    failed = report.failed(args.fail_on)
    if report.findings:
        print(f"{prog}: {len(report.errors)} error(s), {len(report.warnings)} warning(s) (profile {report.profile})")
    if report.input_errors:
        return 2
    if args.fail_on_skipped and report.skipped:
        print(f"{prog}: {len(report.skipped)} file(s) skipped and --fail-on-skipped is set")
        return 1
    return 1 if failed else 0


def cryptography_usable(prog: str) -> bool:
    """False (after saying why, in the words modules use) when cryptography is missing or below the floor."""
    from certhygiene._crypto import requirement_problem

    problem = requirement_problem(sys.executable)
    if problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        return False
    return True


def load_policy_or_none(
    path: str | None, profile: str | None, prog: str, max_file_size: int | None = None
) -> Policy | None:
    """The policy, or None after printing why it cannot be loaded (the caller exits 2).
    ``max_file_size`` (``--max-file-size``) wins over the policy file's."""
    from certhygiene.policy import PolicyError, load_policy

    try:
        return load_policy(profile=profile, path=path, root=os.getcwd(), overrides={"max_file_size": max_file_size})
    except PolicyError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def read_vault_password(path: str, prog: str) -> bytes | None:
    """The vault password, or None after printing why the file cannot be used (the caller exits 2)."""
    from certhygiene.cmdline import PasswordFileError
    from certhygiene.cmdline import read_vault_password as read_password

    try:
        return read_password(path)
    except PasswordFileError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
