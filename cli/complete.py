"""``certhygiene complete CERT --chain-out F [--intermediates P]... [--roots P]... [--no-aia]``: common problem 2.

Builds the chain of CERT from the leaf up: from the other certificates in CERT (if it is a
bundle), from local files and folders (``--intermediates``, ``--roots``; a root given with
``--roots`` is preferred as the end of the path), and from each certificate's AIA caIssuers
URL (http:// only; ``--no-aia`` turns it off). Every signature is verified; several
candidates with the same subject, cross-signed and expired certificates and cycles are
handled by backtracking. The chain (intermediates in issuing order, without the root unless
``--include-root``; when the leaf was issued directly by a self-signed CA, that CA is the chain)
goes to ``--chain-out``, written as ``split`` writes (never over a private key or CERT itself
without ``--force``, atomically). Exit 0 done, 1 the chain cannot be completed (the message names
the missing issuer and where it was looked for), 2 usage error or an output refused.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from certhygiene.cli.main import RawDescriptionHelpFormatter
from certhygiene.cli.split import add_force, read_input, report_notes, write_outputs


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "complete",
        help="build a certificate's chain from local files and AIA URLs",
        description=__doc__,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("cert", metavar="CERT", help="the certificate (or a bundle starting from it)")
    parser.add_argument("--chain-out", required=True, metavar="FILE", help="where the chain goes")
    parser.add_argument(
        "--intermediates", action="append", default=[], metavar="PATH", help="file or folder of candidate issuers"
    )
    parser.add_argument(
        "--roots", action="append", default=[], metavar="PATH", help="file or folder of roots you trust (preferred)"
    )
    parser.add_argument("--no-aia", action="store_true", help="do not download issuers from AIA caIssuers URLs")
    parser.add_argument("--include-root", action="store_true", help="append the root to the chain file")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="the most one AIA download may take in all (default 10); the downloads of a run stop after 3 times that",
    )
    add_force(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from certhygiene.chain import ChainError, chain_outcome, http_fetch, load_candidates
    from certhygiene.facts import cert_label

    data = read_input(args.cert, "complete")
    if data is None:
        return 2
    try:
        candidates = load_candidates(args.intermediates) + load_candidates(args.roots, trusted=True)
    except ChainError as exc:
        print(f"certhygiene complete: {exc}", file=sys.stderr)
        return 2
    try:
        outcome = chain_outcome(
            data,
            args.cert,
            candidates=candidates,
            fetch=None if args.no_aia else http_fetch,
            timeout=args.timeout,
            looked_in=[*args.intermediates, *args.roots],
            include_root=args.include_root,
        )
    except ChainError as exc:
        print(f"certhygiene complete: {exc}", file=sys.stderr)
        return 1
    if args.roots and outcome.complete and not outcome.trusted:
        print(
            f"certhygiene complete: warning: the chain ends at {cert_label(outcome.path[-1].cert)}, "
            "which is not among --roots",
            file=sys.stderr,
        )
    report_notes(outcome, "complete")
    return write_outputs([(args.chain_out, "--chain-out", outcome.chain)], [args.cert], args.force, "complete")
