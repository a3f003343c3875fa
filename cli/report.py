"""``certhygiene report``: every certificate in a tree, soonest expiry first.

    certhygiene report [PATH ...] [--format table|json] [--warn-days N]
                       [--vault-password-file FILE] [--fail-on expired|expiring]

Each certificate found (in PEM and DER files, bundles and chains, and Ansible
Vault files when a vault password is given) becomes one row: path and line of its
PEM block, subject, serial, not_after, days left and a status: ``expired``,
``expiring`` (fewer days left than ``--warn-days``; default: the policy's
``min_days_left``, 180 in the seed profile) or ``ok``. Files it cannot read the
certificates of (vault files without a password, PKCS#12) are listed as skipped,
with the reason. Exit 0, or 1 with ``--fail-on`` when a certificate has that status
(``expiring`` includes expired ones); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from certhygiene.cmdline import VAULT_ENV, add_profile

STATUSES = ("expired", "expiring", "ok")
# The engine's certificate facts a row shows.
ROW_FACTS = ("subject", "serial", "issuer", "not_before", "not_after", "days_left", "is_ca")


@dataclass
class Row:
    path: str
    line: int
    subject: str
    serial: str
    issuer: str
    not_before: str
    not_after: str
    days_left: int
    status: str
    is_ca: bool
    vault: bool


@dataclass
class Skipped:
    path: str
    reason: str


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="list every certificate in a tree by days left (table or JSON)",
        description="List every certificate in files and folders by days left: path, subject, serial, "
        "not_after, days left and status (expired, expiring, ok).",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", default=["."], help="files and folders (default: .)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.add_argument(
        "--warn-days",
        type=int,
        metavar="N",
        help="'expiring' below N days left (default: the policy's min_days_left, 180 in the seed profile)",
    )
    parser.add_argument("--policy", metavar="FILE", help="policy file (default: .certhygiene.yaml here, if any)")
    add_profile(parser)
    parser.add_argument(
        "--vault-password-file",
        metavar="FILE",
        default=os.environ.get(VAULT_ENV) or None,
        help=f"read Ansible Vault files with this password (default: ${VAULT_ENV}); without it they are skipped",
    )
    parser.add_argument(
        "--fail-on",
        choices=("expired", "expiring"),
        help="exit 1 when a certificate is expired (or expiring, which includes expired)",
    )
    from certhygiene.cmdline import add_max_file_size

    add_max_file_size(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    warn_days = args.warn_days
    if warn_days is not None and warn_days < 0:
        print("certhygiene report: --warn-days must be 0 or more", file=sys.stderr)
        return 2
    policy = _policy(args.policy, args.profile, args.max_file_size)
    if policy is None:
        return 2
    if warn_days is None:
        warn_days = int(policy.min_days_left)
    password: bytes | None = None
    if args.vault_password_file:
        password = _read_password(args.vault_password_file)
        if password is None:
            return 2
    missing = [path for path in args.paths if not os.path.exists(path)]
    if missing:
        print(f"certhygiene report: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    errors: list[Skipped] = []
    rows, skipped = collect(args.paths, warn_days=warn_days, vault_password=password, errors=errors, policy=policy)
    if args.format == "json":
        from certhygiene.report import safe_strings

        print(json.dumps(safe_strings(as_json(rows, skipped, warn_days)), indent=2))
    else:
        print(render_table(rows, skipped, warn_days))
    for error in errors:
        print(f"certhygiene report: {error.path}: {error.reason}", file=sys.stderr)
    if errors:
        return 2
    if args.fail_on:
        failing = ("expired",) if args.fail_on == "expired" else ("expired", "expiring")
        if any(row.status in failing for row in rows):
            return 1
    return 0


def collect(
    paths: Sequence[str],
    *,
    warn_days: int,
    vault_password: bytes | None = None,
    now: datetime.datetime | None = None,
    max_bytes: int | None = None,
    errors: list[Skipped] | None = None,
    policy: Any = None,
) -> tuple[list[Row], list[Skipped]]:
    """Every certificate under ``paths`` (sorted by days left, then path and line) and the files skipped.

    Files are read as ``certhygiene check`` reads them (the engine's layout: regular files only, each up to
    ``max_bytes``, vault files decrypted in memory). A vault file the given password does not open is not a
    skip but an error: it goes to ``errors`` when given."""
    from certhygiene.inputs import InputError, check_readable
    from certhygiene.layout import Layout
    from certhygiene.material import ReadCache
    from certhygiene.policy import load_policy

    now = now or datetime.datetime.now(datetime.timezone.utc)
    if policy is None:
        policy = load_policy(
            profile="seed", overrides={"max_file_size": max_bytes} if max_bytes else {}, discover=False
        )
    layout = Layout(policy, os.getcwd(), vault_password, ReadCache())
    rows: list[Row] = []
    skipped: list[Skipped] = []
    for path in iter_files(paths):
        shown = _display(path)
        try:  # an unreadable or oversize file is a skip here, not the finding `check` makes of it
            check_readable(path, policy.max_file_size)
        except InputError as exc:
            skipped.append(Skipped(shown, exc.reason))
            continue
        material = layout.load(path)
        absolute = layout.abs(path)
        if material is None:
            if absolute in layout.vault_errors:
                (errors if errors is not None else skipped).append(Skipped(shown, layout.vault_errors[absolute]))
                continue
            reason = layout.skips.get(absolute, "not read")
            if absolute in layout.locked:
                reason = f"Ansible Vault file: no vault password (pass --vault-password-file or set ${VAULT_ENV})"
            skipped.append(Skipped(shown, reason))
            continue
        if material.form == "pkcs12":
            skipped.append(Skipped(shown, "PKCS#12 file: its certificates are not read (convert it to PEM)"))
            continue
        vaulted = absolute in layout.vaulted
        for block in material.certificates:
            row = _row(shown, block.start_line, block.certificate, warn_days, vaulted, now)
            if isinstance(row, str):
                skipped.append(Skipped(f"{shown}:{block.start_line}", row))
            else:
                rows.append(row)
    rows.sort(key=lambda row: (row.days_left, row.path, row.line))
    skipped.sort(key=lambda entry: entry.path)
    return rows, skipped


def iter_files(paths: Sequence[str]) -> Iterator[str]:
    """The files ``certhygiene check`` would read: files named, and cert-like files under folders named."""
    from certhygiene.layout import expand_paths

    yield from expand_paths(paths)


def status_of(days_left: int, expired: bool, warn_days: int) -> str:
    if expired:
        return "expired"
    if days_left < warn_days:
        return "expiring"
    return "ok"


def as_json(rows: Sequence[Row], skipped: Sequence[Skipped], warn_days: int) -> dict[str, Any]:
    counts = {status: sum(1 for row in rows if row.status == status) for status in STATUSES}
    return {
        "warn_days": warn_days,
        "summary": {"certificates": len(rows), **counts, "skipped": len(skipped)},
        "certificates": [asdict(row) for row in rows],
        "skipped": [asdict(entry) for entry in skipped],
    }


def render_table(rows: Sequence[Row], skipped: Sequence[Skipped], warn_days: int) -> str:
    from certhygiene.findings import safe_text

    header = ("DAYS", "STATUS", "NOT AFTER", "PATH", "SUBJECT", "SERIAL")
    body = [
        (
            str(row.days_left),
            row.status,
            row.not_after[:19].replace("T", " "),
            safe_text(f"{row.path}:{row.line}" + (" (vault)" if row.vault else "")),
            safe_text(row.subject),
            row.serial,
        )
        for row in rows
    ]
    lines: list[str] = []
    if body:
        widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
        for cells in [header, *body]:
            lines.append(
                "  ".join(
                    cell.rjust(widths[i]) if i == 0 else cell.ljust(widths[i]) for i, cell in enumerate(cells)
                ).rstrip()
            )
    else:
        lines.append("no certificates found")
    for entry in skipped:
        lines.append(safe_text(f"skipped: {entry.path}: {entry.reason}"))
    counts = {status: sum(1 for row in rows if row.status == status) for status in STATUSES}
    lines.append(
        f"{len(rows)} certificate(s): {counts['expired']} expired, {counts['expiring']} expiring "
        f"(< {warn_days} days), {counts['ok']} ok; {len(skipped)} file(s) skipped"
    )
    return "\n".join(lines)


def _row(path: str, line: int, cert: Any, warn_days: int, vaulted: bool, now: datetime.datetime) -> Row | str:
    """The row of one certificate, or why it has none (a field cryptography cannot parse: a malformed subject,
    a duplicate extension); such a certificate is listed as skipped, the report goes on."""
    from certhygiene.facts import describe_certificate, not_after

    try:
        facts = describe_certificate(cert, now, keys=ROW_FACTS)
        status = status_of(facts["days_left"], not_after(cert) <= now, warn_days)
        return Row(path=path, line=line, **facts, status=status, vault=vaulted)
    except Exception as exc:  # whatever cryptography raises on a malformed field
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        return f"the certificate cannot be read ({detail}); check it with: certhygiene check {path}"


def _display(path: str) -> str:
    """Paths as the user gave them, relative and with forward slashes; ``./`` dropped."""
    shown = os.path.normpath(path).replace(os.sep, "/")
    return shown


def _policy(path: str | None, profile: str | None, max_file_size: int | None) -> Any:
    from certhygiene.policy import PolicyError, load_policy

    try:
        return load_policy(profile=profile, path=path, root=os.getcwd(), overrides={"max_file_size": max_file_size})
    except PolicyError as exc:
        print(f"certhygiene report: {exc}", file=sys.stderr)
        return None


def _read_password(path: str) -> bytes | None:
    from certhygiene.cmdline import PasswordFileError, read_vault_password

    try:
        return read_vault_password(path)
    except PasswordFileError as exc:
        print(f"certhygiene report: {exc}", file=sys.stderr)
        return None
