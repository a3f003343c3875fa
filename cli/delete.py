"""``certhygiene delete``: delete a deployment's TLS configuration (clients on 8883 and 8084 are disconnected).

Same connection flags and credentials as ``certhygiene push``. Exit 0 deleted or nothing to delete (with
``--check``: nothing would be deleted), 1 refused by the API (with ``--check``: would delete), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from certhygiene.cli.push import UsageError, add_connection_arguments, build_provider, exit_code, report
from certhygiene.push import remove


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "delete",
        help="delete a deployment's TLS configuration (disconnects clients on 8883 and 8084)",
        description="Read the deployment's TLS configuration and delete it when there is one. Every client on "
        "8883 (mqtts) and 8084 (wss) is disconnected. Credentials as for certhygiene push. "
        "Exit 0 deleted or nothing to delete, 1 refused by the API (--check: would delete), 2 usage error.",
    )
    add_connection_arguments(parser)
    parser.add_argument("--check", action="store_true", help="plan only: exit 0 when nothing would be deleted, else 1")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        provider = build_provider(args)
    except UsageError as exc:
        print(f"certhygiene delete: error: {exc}", file=sys.stderr)
        return 2
    outcome = remove(provider, check_mode=args.check)
    report(outcome, args, "delete")
    return exit_code(outcome, args.check)
