"""The ``certhygiene`` command: one subcommand per file in this package.

Each subcommand module defines ``register(subparsers)`` which adds its parser
and sets ``func`` to a callable taking the parsed arguments and returning the
exit code (0 clean, 1 findings or failure, 2 usage error).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

# Order is the order of `certhygiene --help`.
SUBCOMMANDS = (
    "check",
    "rules",
    "report",
    "split",
    "complete",
    "probe",
    "push",
    "delete",
    "sandbox",
)


def version() -> str:
    """The installed distribution's version (pyproject.toml), which galaxy.yml repeats for the collection."""
    # Here, not at the top: importlib.metadata (zipfile, email, pathlib ...) costs ~25 ms of every run.
    import importlib.metadata

    try:
        return importlib.metadata.version("certhygiene")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed; run pip install .)"


class _VersionAction(argparse._VersionAction):
    """argparse's ``--version``, looking the version up only when the option is given."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        self.version = f"%(prog)s {version()}"
        super().__call__(parser, namespace, values, option_string)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; ``only``: register just that subcommand (its module alone is imported)."""
    parser = argparse.ArgumentParser(
        prog="certhygiene",
        description="Keep TLS certificates clean: check them against a deployment's import rules, "
        "repair chains, push them to a deployment, probe endpoints and run a local sandbox deployment.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        if only is not None and name != only:
            continue
        importlib.import_module(f"certhygiene.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # The first argument names the subcommand: import only its module (the others import what they need at
    # startup, e.g. the sandbox its logging and threading). Anything else (--help, a typo) gets every subcommand.
    chosen = arguments[0] if arguments and arguments[0] in SUBCOMMANDS else None
    if arguments[:1] == ["--version"]:
        chosen = SUBCOMMANDS[0]  # no need to import every subcommand to say the version
    from certhygiene.findings import prepare_console

    prepare_console()
    parser = build_parser(only=chosen)
    args = parser.parse_args(arguments)
    if args.command != "rules":  # the catalog is text; everything else reads or makes certificates
        from certhygiene._crypto import requirement_problem

        problem = requirement_problem(sys.executable)
        if problem:
            print(f"certhygiene: {problem}", file=sys.stderr)
            return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # the last resort: every known failure has its own message; never a traceback
        from certhygiene.findings import safe_text

        detail = safe_text(str(exc).splitlines()[0][:200] if str(exc) else "")
        print(
            f"certhygiene {args.command}: unexpected error ({type(exc).__name__}: {detail}); "
            "nothing more was done. Please report this with the command that caused it.",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
