# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deployment's TLS configuration as wanted (``Desired``) and as reported (``Observed``), and how they differ.

The API never returns the certificate on the emqx-cloud dialect: the comparison uses the TLS type, the CN and the
expiry, the fingerprint where the service carries the PEM, and the certificate the live endpoint presents when it
was looked at.
"""

from __future__ import annotations

import datetime
import email.utils
import re
from dataclasses import dataclass, field
from typing import Any

from .facts import (
    colon_hex,
    common_name,
    describe_certificate,
    not_after,
    sha256_fingerprint,
    subject_alt_names,
    subject_text,
)
from .material import read_bytes, to_pem
from .transport import ApiError

TLS_TYPES = ("one-way", "two-way")

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s\\n]+?-----END CERTIFICATE-----")


@dataclass
class Desired:
    """What we want the deployment to serve, with the public facts used to compare and diff."""

    tls_type: str
    leaf_pem: str
    chain_pem: str = ""
    key_pem: str = field(default="", repr=False)
    client_ca_pem: str = ""
    cn: str | None = None
    subject: str = ""
    not_after: datetime.datetime | None = None
    fingerprint: str = ""  # sha256 hex, lower case, of the leaf's DER
    dns_names: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    chain: list[dict[str, str]] = field(default_factory=list)
    client_ca: list[dict[str, str]] = field(default_factory=list)

    @property
    def fullchain_pem(self) -> str:
        return self.leaf_pem + self.chain_pem

    def facts(self) -> dict[str, Any]:
        """Public facts for results and diffs (never the key)."""
        return {
            "tls_type": self.tls_type,
            "cn": self.cn,
            "subject": self.subject,
            "expire": self.not_after.isoformat() if self.not_after else None,
            "fingerprint_sha256": colon_hex(self.fingerprint) if self.fingerprint else None,
            "subject_alt_names": [f"DNS:{d}" for d in self.dns_names] + [f"IP:{i}" for i in self.ip_addresses],
            "chain": list(self.chain),
            "client_ca": list(self.client_ca) if self.tls_type == "two-way" else [],
        }


def _cert_summary(cert: Any) -> dict[str, str]:
    return describe_certificate(cert, keys=("subject", "not_after", "fingerprint_sha256"))


def _certs(data: bytes | None) -> list[Any]:
    if not data:
        return []
    return [block.certificate for block in read_bytes(data).certificates]


def _pem_of(cert: Any) -> str:
    return to_pem("CERTIFICATE", cert.public_bytes(_der_encoding())).decode("ascii")


def _der_encoding() -> Any:
    from ._crypto import serialization

    return serialization.Encoding.DER


def build_desired(
    *,
    tls_type: str,
    certificate: bytes,
    chain: bytes | None = None,
    private_key: bytes | None = None,
    client_ca: bytes | None = None,
) -> Desired:
    """Normalise the material: the first certificate of ``certificate`` is the leaf, ``chain`` follows it."""
    if tls_type not in TLS_TYPES:
        raise ApiError(f"tls_type must be one of {', '.join(TLS_TYPES)}, not {tls_type!r}")
    leaves = _certs(certificate)
    if not leaves:
        raise ApiError("the certificate holds no PEM certificate")
    leaf = leaves[0]
    chain_certs = _certs(chain)
    ca_certs = _certs(client_ca) if tls_type == "two-way" else []
    dns, ips = subject_alt_names(leaf)
    key_text = (private_key or b"").decode("ascii", errors="replace").strip()
    return Desired(
        tls_type=tls_type,
        leaf_pem=_pem_of(leaf),
        chain_pem="".join(_pem_of(c) for c in chain_certs),
        key_pem=key_text + "\n" if key_text else "",
        client_ca_pem="".join(_pem_of(c) for c in ca_certs),
        cn=common_name(leaf.subject),
        subject=subject_text(leaf),
        not_after=not_after(leaf),
        fingerprint=sha256_fingerprint(leaf),
        dns_names=dns,
        ip_addresses=ips,
        chain=[_cert_summary(c) for c in chain_certs],
        client_ca=[_cert_summary(c) for c in ca_certs],
    )


def pem_fingerprint(text: str) -> str | None:
    """sha256 (hex) of the first PEM certificate in ``text``, or None."""
    match = _PEM_CERT.search(text.replace("\\n", "\n"))
    if not match:
        return None
    certs = _certs(match.group(0).encode("ascii", errors="replace"))
    return sha256_fingerprint(certs[0]) if certs else None


def parse_expire(value: Any) -> tuple[datetime.datetime, bool] | None:
    """(UTC time, date_only) from what an API calls ``expire``: epoch s/ms, ISO 8601, 'YYYY-MM-DD[ HH:MM:SS]'."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) / 1000.0 if value > 1e11 else float(value)
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc), False
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return parse_expire(float(text))
    date_only = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc), date_only


def same_expiry(observed: Any, wanted: datetime.datetime | None) -> bool | None:
    """True/False when ``observed`` can be read, None when it cannot."""
    parsed = parse_expire(observed)
    if parsed is None or wanted is None:
        return None
    when, date_only = parsed
    if date_only:
        return when.date() == wanted.astimezone(datetime.timezone.utc).date()
    return abs((when - wanted).total_seconds()) < 1.0


# --------------------------------------------------------------------------- the deployment's state


@dataclass
class Observed:
    """What the deployment reports (and, when asked, what its endpoint presents)."""

    present: bool
    tls_type: str | None = None
    cn: str | None = None
    expire: Any = None
    status: str | None = None
    fingerprint: str | None = None  # from the API's answer, when it carries the certificate
    endpoint_fingerprint: str | None = None
    endpoint_subject: str | None = None
    endpoint_error: str | None = None
    endpoint_checked: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "present": self.present,
            "tls_type": self.tls_type,
            "cn": self.cn,
            "expire": self.expire,
            "status": self.status,
        }
        if self.fingerprint:
            out["fingerprint_sha256"] = colon_hex(self.fingerprint)
        if self.endpoint_checked:
            out["endpoint"] = {
                "fingerprint_sha256": colon_hex(self.endpoint_fingerprint) if self.endpoint_fingerprint else None,
                "subject": self.endpoint_subject,
                "error": self.endpoint_error,
            }
        return out


def differences(desired: Desired, observed: Observed, *, use_endpoint: bool = True) -> list[str]:
    """Why a write is needed; empty when the deployment already has ``desired``."""
    if not observed.present:
        return ["no TLS configuration on the deployment"]
    out: list[str] = []
    known = False
    if observed.tls_type is not None:
        if observed.tls_type != desired.tls_type:
            out.append(f"tlsType: {observed.tls_type} -> {desired.tls_type}")
    if observed.cn is not None:
        known = True
        if observed.cn != (desired.cn or None):
            out.append(f"cn: {observed.cn} -> {desired.cn}")
    if observed.expire not in (None, ""):
        same = same_expiry(observed.expire, desired.not_after)
        if same is not None:
            known = True
            if not same:
                wanted = desired.not_after.isoformat() if desired.not_after else None
                out.append(f"expire: {observed.expire} -> {wanted}")
    if observed.fingerprint is not None:
        known = True
        if observed.fingerprint != desired.fingerprint:
            out.append("certificate: another certificate is configured (fingerprint differs)")
    if observed.status == "failed":
        out.append("status: failed")
    if use_endpoint and observed.endpoint_checked:
        known = True
        if observed.endpoint_fingerprint is None:
            out.append(f"endpoint: presents no certificate ({observed.endpoint_error or 'unreachable'})")
        elif observed.endpoint_fingerprint != desired.fingerprint:
            out.append(f"endpoint: presents another certificate ({observed.endpoint_subject})")
    if not known and not out:
        out.append("the current certificate cannot be read back (give verify_endpoint to compare it)")
    return out
