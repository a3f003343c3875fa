"""``certhygiene check [PATH ...]``: check certificate files and folders against the policy.

Exit 0 when nothing at or above ``--fail-on`` was found, 1 when something was (or,
with ``--fail-on-skipped``, a file was skipped), 2 for a usage error (a path that does
not exist, a bad policy file, an unreadable vault password file, a vault password that
does not open a vault file). The engine is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from certhygiene.cmdline import VAULT_ENV, add_profile

FORMATS = ("text", "json", "sarif")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check certificates, chains and keys against the policy",
        description="Check certificate, chain and key files (folders: every certificate-like file under them) "
        "against the policy: .certhygiene.yaml at the repository root, --policy FILE, or a --profile. "
        "Exit 0 clean, 1 findings, 2 usage error.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files and folders (default: the current folder)")
    parser.add_argument(
        "--policy", metavar="FILE", help="policy file (default: .certhygiene.yaml at the repository root)"
    )
    add_profile(parser)
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--fail-on", choices=("error", "warning"), default="error", help="lowest severity that makes the exit code 1"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE instead of standard output (atomically; never over a private key or a "
        "checked file)",
    )
    parser.add_argument(
        "--vault-password-file",
        metavar="FILE",
        default=os.environ.get(VAULT_ENV) or None,
        help=f"decrypt Ansible Vault files in memory with this password (default: ${VAULT_ENV}); "
        "without it vault files are skipped",
    )
    parser.add_argument(
        "--fail-on-skipped",
        action="store_true",
        help="exit 1 when a file was skipped (a vault file without a password, a FIFO ...): for pipelines that "
        "must see everything",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=os.cpu_count() or 1,
        metavar="N",
        help="check folders in N processes (default: the number of cores; 1: in this process); the report is the same",
    )
    from certhygiene.cmdline import add_max_file_size

    add_max_file_size(parser)
    parser.set_defaults(func=run, begin=begin)


def _jobs(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"--jobs takes a number of processes (1 or more), not {value!r}")
    return number


def repository_root(start: str | None = None) -> str:
    """The git top-level folder above ``start`` (default: the current folder), else the current folder."""
    here = os.path.abspath(start or os.getcwd())
    folder = here
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return here
        folder = parent


def _usage_error(message: str) -> int:
    print(f"certhygiene check: {message}", file=sys.stderr)
    return 2


def begin(args: argparse.Namespace) -> Any:
    """What can start before the command imports cryptography: the walk of the folders given, in a fork
    (``run`` takes it as ``args.walk``). Returns what the caller closes when the command ends, or None."""
    paths = list(args.paths) or ["."]
    if not (any(os.path.isdir(path) for path in paths) and all(os.path.exists(path) for path in paths)):
        return None
    from certhygiene.layout import BackgroundWalk

    args.walk = BackgroundWalk(paths)
    return args.walk


def run(args: argparse.Namespace) -> int:
    paths = list(args.paths) or ["."]
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        return _usage_error(f"no such file or folder: {', '.join(missing)}")
    from certhygiene.check import check_paths
    from certhygiene.policy import PolicyError, load_policy
    from certhygiene.report import input_error_lines, render_json, render_sarif, render_text, summary_line

    root = repository_root()
    try:
        policy = load_policy(
            profile=args.profile, path=args.policy, root=root, overrides={"max_file_size": args.max_file_size}
        )
    except PolicyError as exc:
        return _usage_error(str(exc))
    password = None
    if args.vault_password_file:
        from certhygiene.cmdline import PasswordFileError, read_vault_password

        try:
            password = read_vault_password(args.vault_password_file)
        except PasswordFileError as exc:
            print(f"certhygiene check: {exc}", file=sys.stderr)
            return 2
    walk = getattr(args, "walk", None)
    report = check_paths(paths, policy, root=root, vault_password=password, jobs=args.jobs, walk=walk)
    if args.format == "json":
        text = render_json(report)
    elif args.format == "sarif":
        text = render_sarif(report, root)
    else:
        text = render_text(report)
    if args.output:
        from certhygiene.files import WriteError, write_report

        try:
            # Atomic: the old report stays whole until the new one is complete; never over a key or a checked file.
            write_report(args.output, text, inputs=paths)
        except WriteError as exc:
            return _usage_error(f"{exc}; fix --output")
        sys.stdout.write(summary_line(report) + f"; report written to {args.output}\n")
    else:
        sys.stdout.write(text)
    if report.input_errors:
        if args.format != "text" or args.output:  # the text report already says it on standard output
            for line in input_error_lines(report):
                print(f"certhygiene check: {line}", file=sys.stderr)
        return 2
    if args.fail_on_skipped and report.skipped:
        print(
            f"certhygiene check: {len(report.skipped)} file(s) skipped and --fail-on-skipped is set: "
            "give what they need (e.g. --vault-password-file) or leave them out",
            file=sys.stderr,
        )
        return 1
    return 1 if report.failed(args.fail_on) else 0
