"""``certhygiene split BUNDLE --cert-out F --chain-out F [--root-out F]``: the seed's common problem 1.

A purchased certificate file often holds the user certificate, the intermediates and the
root. ``split`` writes the leaf to ``--cert-out``, the intermediates in issuing order to
``--chain-out`` (never the leaf), and the root to ``--root-out`` when asked. Blocks may come
in any order, repeat, and have text between them. Files are rewritten only when their bytes
would change (atomically). Exit 0 done, 1 the bundle cannot be split, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "split",
        help="split a bundle into the certificate, its chain and its root",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "bundle", metavar="BUNDLE", help="file holding the certificate and its chain (PEM, DER, PKCS#7)"
    )
    parser.add_argument("--cert-out", required=True, metavar="FILE", help="where the leaf certificate goes")
    parser.add_argument(
        "--chain-out", required=True, metavar="FILE", help="where the intermediates go, in issuing order"
    )
    parser.add_argument("--root-out", metavar="FILE", help="where the root goes (the bundle must hold it)")
    parser.set_defaults(func=run)


def read_input(path: str, prog: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        print(f"certhygiene {prog}: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None


def write_output(path: str, data: bytes, what: str) -> None:
    """Write ``data`` unless ``path`` holds it already; say which."""
    from certhygiene.files import read_optional, write_atomic

    if read_optional(path) == data:
        print(f"{path}: unchanged ({what})")
        return
    write_atomic(path, data)
    print(f"{path}: written ({what})")


def describe(certs: list[Any]) -> str:
    from certhygiene.facts import cert_label

    if not certs:
        return "empty"
    return ", ".join(cert_label(c) for c in certs)


def report_warnings(result: Any, prog: str) -> None:
    from certhygiene.facts import cert_label

    for cert in result.unused:
        print(
            f"certhygiene {prog}: warning: {cert_label(cert)} is not on the leaf's path; not written", file=sys.stderr
        )
    for cert in result.expired:
        print(
            f"certhygiene {prog}: warning: {cert_label(cert)} in the chain is expired or not yet valid", file=sys.stderr
        )
    for note in result.notes:
        print(f"certhygiene {prog}: note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from certhygiene.chain import ChainError, split_bundle, to_pem_chain
    from certhygiene.facts import cert_label, is_self_signed

    data = read_input(args.bundle, "split")
    if data is None:
        return 2
    try:
        result = split_bundle(data, args.bundle)
    except ChainError as exc:
        print(f"certhygiene split: {exc}", file=sys.stderr)
        return 1
    if len(result.path) == 1 and not is_self_signed(result.leaf):
        print(
            f"certhygiene split: {args.bundle} holds no issuer of {cert_label(result.leaf)}, so there is no chain "
            f"to split off (missing: '{result.missing_issuer}'). Complete it: certhygiene complete {args.bundle} "
            "--chain-out FILE",
            file=sys.stderr,
        )
        return 1
    if args.root_out and result.root is None:
        print(
            f"certhygiene split: {args.bundle} holds no root (self-signed) certificate above "
            f"{cert_label(result.path[-1].cert)} for --root-out; drop --root-out or add the root "
            f"'{result.missing_issuer}' to the bundle",
            file=sys.stderr,
        )
        return 1
    report_warnings(result, "split")
    write_output(args.cert_out, to_pem_chain([result.leaf]), describe([result.leaf]))
    write_output(args.chain_out, to_pem_chain(result.intermediates), describe(result.intermediates))
    if args.root_out:
        write_output(args.root_out, to_pem_chain([result.root]), describe([result.root]))
    return 0
