"""``certhygiene split BUNDLE --cert-out F --chain-out F [--root-out F]``: the seed's common problem 1.

A purchased certificate file often holds the user certificate, the intermediates and the
root. ``split`` writes the leaf to ``--cert-out``, the intermediates in issuing order to
``--chain-out`` (never the leaf), and the root to ``--root-out`` when asked. Blocks may come
in any order, repeat, and have text between them. When the leaf was issued directly by a
self-signed CA (no intermediate), that CA is the chain. Private keys in the bundle are never
written (a note says so).

Nothing is lost: the outputs are written all or nothing (temporary files, then renames), only
when their bytes change; an output that holds a private key or is the bundle itself is refused
(exit 2) unless ``--force`` (then a backup ``FILE.<pid>.<date>~`` is kept); two outputs naming
the same file, a folder, a special file or a missing folder are refused. A symbolic link is
written through to its target. Exit 0 done, 1 the bundle cannot be split, 2 usage error or an
output refused.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from certhygiene.cli.main import RawDescriptionHelpFormatter


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "split",
        help="split a bundle into the certificate, its chain and its root",
        description=__doc__,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "bundle", metavar="BUNDLE", help="file holding the certificate and its chain (PEM, DER, PKCS#7)"
    )
    parser.add_argument("--cert-out", required=True, metavar="FILE", help="where the leaf certificate goes")
    parser.add_argument(
        "--chain-out", required=True, metavar="FILE", help="where the intermediates go, in issuing order"
    )
    parser.add_argument("--root-out", metavar="FILE", help="where the root goes (the bundle must hold it)")
    add_force(parser)
    parser.set_defaults(func=run)


def add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an output that holds a private key or is an input (a backup copy FILE.<pid>.<date>~ is kept)",
    )


def read_input(path: str, prog: str) -> bytes | None:
    """The bytes of the input file (a regular file, at most 16 MiB), or None after saying why not."""
    from certhygiene.findings import safe_text
    from certhygiene.inputs import InputError, read_regular

    try:
        return read_regular(path)
    except InputError as exc:
        print(safe_text(f"certhygiene {prog}: cannot read {path}: {exc.reason}"), file=sys.stderr)
        return None


def write_outputs(outputs: list[tuple[str, str, list[Any]]], inputs: list[str], force: bool, prog: str) -> int:
    """Write ``(path, option, certificates)`` all or nothing; say what happened. 0, or 2 when refused or failed."""
    from certhygiene.chain import to_pem_chain
    from certhygiene.files import Output, WriteError, write_outputs

    wanted = [Output(path, to_pem_chain(certs), option) for path, option, certs in outputs]
    try:
        result = write_outputs(wanted, inputs=inputs, force=force)
    except WriteError as exc:
        print(f"certhygiene {prog}: {exc}", file=sys.stderr)
        return 2
    for path, _option, certs in outputs:
        state = "unchanged" if path in result.unchanged else "written"
        print(f"{path}: {state} ({describe(certs)})")
    for path, copy in result.backups.items():
        print(f"{path}: the old file was kept as {copy}")
    return 0


def describe(certs: list[Any]) -> str:
    from certhygiene.facts import cert_label

    if not certs:
        return "empty"
    return ", ".join(cert_label(c) for c in certs)


def report_notes(outcome: Any, prog: str) -> None:
    for note in outcome.notes:
        print(f"certhygiene {prog}: note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from certhygiene.chain import ChainError, IncompleteChain, NoRoot, chain_outcome
    from certhygiene.facts import cert_label

    data = read_input(args.bundle, "split")
    if data is None:
        return 2
    try:
        outcome = chain_outcome(data, args.bundle, want_root=bool(args.root_out))
    except IncompleteChain as exc:
        print(
            f"certhygiene split: {args.bundle} holds no issuer of {cert_label(exc.result.leaf)}, so there is no "
            f"chain to split off (missing: '{exc.result.missing_issuer}'). Complete it: certhygiene complete "
            f"{args.bundle} --chain-out FILE",
            file=sys.stderr,
        )
        return 1
    except NoRoot as exc:
        print(
            f"certhygiene split: {args.bundle} holds no root (self-signed) certificate for --root-out; drop "
            f"--root-out or add the root to the bundle ({exc})",
            file=sys.stderr,
        )
        return 1
    except ChainError as exc:
        print(f"certhygiene split: {exc}", file=sys.stderr)
        return 1
    report_notes(outcome, "split")
    outputs = [(args.cert_out, "--cert-out", [outcome.leaf]), (args.chain_out, "--chain-out", outcome.chain)]
    if args.root_out:
        outputs.append((args.root_out, "--root-out", [outcome.root]))
    return write_outputs(outputs, [args.bundle], args.force, "split")
