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

# Order is the order of `certhygiene --help`.
SUBCOMMANDS = (
    "check",
    "rules",
    "report",
    "split",
    "complete",
    "probe",
    "sandbox",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="certhygiene",
        description="Keep TLS certificates clean: check them against a deployment's import rules, "
        "repair chains, probe endpoints and run a local sandbox deployment.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"certhygiene.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"certhygiene.cli.{name}":
                continue  # subcommand not built yet in this checkout
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
