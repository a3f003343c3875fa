# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issuing keys, certificates and CSRs, and deciding whether existing ones still fit.

The decision (:func:`decide`) is pure: it reads bytes already loaded and says what a run
would change and why, so check mode and diff predict exactly what a real run does.
:func:`manage` and :func:`manage_many` add the files (atomic writes, key mode 0600,
backups); :func:`manage_many` generates keys on all cores.

Private key bytes never appear in a result, a reason or an error message.
"""

from __future__ import annotations

import datetime
import errno
import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._crypto import (
    SHARE_ACROSS_THREADS,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    PasswordRequired,
    ec,
    hashes,
    load_der_private_key,
    load_pem_private_key,
    not_valid_after,
    not_valid_before,
    rsa,
    serialization,
    x509,
)
from .facts import (
    KeyInfo,
    cert_label,
    colon_hex,
    describe_certificate,
    is_fqdn_or_ip,
    is_signed_by,
    key_info,
    public_key_der,
)
from .files import KEY_MODE, Output, WriteError, write_outputs
from .findings import ERROR
from .inputs import InputError, Unreadable, read_regular
from .material import read_bytes
from .policy import Policy
from .rules import RULES, algorithm_problem, days_left_problem, identity_problem, key_problem

KINDS = ("ca", "intermediate", "server", "client")
KEY_TYPES = ("rsa", "ec")
DEFAULT_KEY_SIZE = {"rsa": 2048, "ec": 256}
# CAs live long (the seed: 3650 days). Leaves get 825 days: the longest validity Apple platforms
# accept for a TLS server certificate even from a private CA, and far above the seed's 180-day minimum.
DEFAULT_DAYS = {"ca": 3650, "intermediate": 3650, "server": 825, "client": 825}
DEFAULT_RENEW_BEFORE_DAYS = 30
RSA_SIZES = (1024, 2048, 3072, 4096)
EC_SIZES = (256, 384, 521)
# Certificates are backdated a little so that a peer whose clock lags still accepts them at once.
BACKDATE = datetime.timedelta(hours=1)
# manage_many writes files from this many threads (fsync waits overlap).
WRITER_THREADS = 8
# manage_many makes keys in batches of this many (memory stays flat for any number of names).
KEYGEN_BATCH = 512

# (short name, OID attribute name, long name) in the order the subject is written (the seed's order).
_SUBJECT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("C", "COUNTRY_NAME", "countryName"),
    ("ST", "STATE_OR_PROVINCE_NAME", "stateOrProvinceName"),
    ("L", "LOCALITY_NAME", "localityName"),
    ("O", "ORGANIZATION_NAME", "organizationName"),
    ("OU", "ORGANIZATIONAL_UNIT_NAME", "organizationalUnitName"),
    ("CN", "COMMON_NAME", "commonName"),
    ("emailAddress", "EMAIL_ADDRESS", "emailAddress"),
)
_SUBJECT_ALIASES = {alias.lower(): short for short, _attr, long in _SUBJECT_FIELDS for alias in (short, long)}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


class IssueError(ValueError):
    """Bad input or a file this module refuses to touch; the message names the file and the fix."""


# --------------------------------------------------------------------------- specifications


@dataclass(frozen=True)
class KeySpec:
    key_type: str = "rsa"
    key_size: int = 2048

    @property
    def info(self) -> KeyInfo:
        if self.key_type == "ec":
            return KeyInfo("EC", self.key_size, {256: "secp256r1", 384: "secp384r1", 521: "secp521r1"}[self.key_size])
        return KeyInfo("RSA", self.key_size)

    @property
    def label(self) -> str:
        return f"{self.key_type}/{self.key_size} ({self.info.name})"


def key_spec(key_type: str = "rsa", key_size: int | None = None) -> KeySpec:
    if key_type not in KEY_TYPES:
        raise IssueError(f"key_type must be one of {', '.join(KEY_TYPES)}, not {key_type!r}")
    size = DEFAULT_KEY_SIZE[key_type] if key_size is None else int(key_size)
    allowed = RSA_SIZES if key_type == "rsa" else EC_SIZES
    if size not in allowed:
        what = "bits" if key_type == "rsa" else "bit curves (P-256, P-384, P-521)"
        raise IssueError(
            f"key_size {size} is not supported for key_type {key_type}: use {', '.join(map(str, allowed))} {what}"
        )
    return KeySpec(key_type, size)


@dataclass(frozen=True)
class CertSpec:
    """What the certificate should be."""

    kind: str
    subject: tuple[tuple[str, str], ...]
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    key: KeySpec = KeySpec()
    days: int = 825
    not_after: datetime.datetime | None = None
    renew_before_days: int = DEFAULT_RENEW_BEFORE_DAYS

    @property
    def is_ca(self) -> bool:
        return self.kind in ("ca", "intermediate")

    @property
    def needs_issuer(self) -> bool:
        return self.kind != "ca"

    @property
    def subject_alt_names(self) -> list[str]:
        return [f"DNS:{d}" for d in self.dns_names] + [f"IP:{i}" for i in self.ip_addresses]

    def name(self) -> Any:
        return build_name(self.subject)


def parse_subject(subject: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A mapping of C, ST, L, O, OU, CN (or their long names) -> canonical ordered pairs."""
    values: dict[str, str] = {}
    for raw_key, raw_value in (subject or {}).items():
        short = _SUBJECT_ALIASES.get(str(raw_key).lower())
        if short is None:
            known = ", ".join(field[0] for field in _SUBJECT_FIELDS)
            raise IssueError(f"subject: unknown attribute {raw_key!r}; use {known}")
        if raw_value is None or str(raw_value) == "":
            continue
        if short in values:
            raise IssueError(f"subject: {short} is given twice")
        values[short] = str(raw_value)
    country = values.get("C")
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise IssueError(f"subject: C must be a two-letter country code, not {country!r}")
    for short, value in values.items():
        if len(value) > 64 and short != "emailAddress":
            raise IssueError(f"subject: {short} is longer than 64 characters")
    return tuple((field[0], values[field[0]]) for field in _SUBJECT_FIELDS if field[0] in values)


def build_name(pairs: Sequence[tuple[str, str]]) -> Any:
    oids = {field[0]: getattr(NameOID, field[1]) for field in _SUBJECT_FIELDS}
    return x509.Name([x509.NameAttribute(oids[short], value) for short, value in pairs])


def name_pairs(name: Any) -> tuple[tuple[str, str], ...]:
    """A certificate's subject as comparable (oid, value) pairs."""
    return tuple((attr.oid.dotted_string, str(attr.value)) for attr in name)


def subject_text(pairs: Sequence[tuple[str, str]]) -> str:
    return ",".join(f"{short}={value}" for short, value in reversed(pairs)) or "(empty subject)"


def parse_subject_alt_names(values: Iterable[Any] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``DNS:name``, ``IP:address`` or bare values (IP addresses are detected) -> (DNS names, IPs)."""
    dns: list[str] = []
    ips: list[str] = []
    for raw in values or ():
        text = str(raw).strip()
        prefix, sep, rest = text.partition(":")
        kind = prefix.strip().lower() if sep else ""
        if kind in ("dns",):
            value = rest.strip()
            as_ip = None
        elif kind in ("ip", "ip address"):
            value = rest.strip()
            try:
                as_ip = str(ipaddress.ip_address(value))
            except ValueError:
                raise IssueError(f"subject_alt_names: {text!r} is not an IP address") from None
        else:
            value = text
            try:
                as_ip = str(ipaddress.ip_address(value))
            except ValueError:
                as_ip = None
        if not value:
            raise IssueError(f"subject_alt_names: empty entry {text!r}")
        if as_ip is not None:
            if as_ip not in ips:
                ips.append(as_ip)
            continue
        name = _dns_name(value, text)
        if name.lower() not in (d.lower() for d in dns):
            dns.append(name)
    return tuple(dns), tuple(ips)


def _dns_name(value: str, original: str) -> str:
    name = value.rstrip(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise IssueError(f"subject_alt_names: {original!r} is not a valid DNS name") from None
    labels = name.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if not labels or len(name) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise IssueError(
            f"subject_alt_names: {original!r} is not a valid DNS name or IP address "
            "(write DNS:name or IP:address; a wildcard only as the first label)"
        )
    return name


def parse_not_after(value: Any) -> datetime.datetime | None:
    """ISO 8601 (``2030-01-31``, ``2030-01-31T12:00:00Z``) or ASN.1 (``20300131120000Z``), UTC when no zone."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{14}Z", text):
            parsed = datetime.datetime.strptime(text, "%Y%m%d%H%M%SZ")
        else:
            try:
                parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise IssueError(
                    f"not_after: {text!r} is not a date; write 2030-01-31, 2030-01-31T12:00:00Z or 20300131120000Z"
                ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc).replace(microsecond=0)


def make_spec(
    kind: str,
    *,
    subject: Mapping[str, Any] | None = None,
    subject_alt_names: Iterable[Any] | None = None,
    key_type: str = "rsa",
    key_size: int | None = None,
    days: int | None = None,
    not_after: Any = None,
    renew_before_days: int | None = None,
) -> CertSpec:
    """Validate the options of one certificate (no policy yet: see :func:`check_policy`)."""
    if kind not in KINDS:
        raise IssueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    key = key_spec(key_type, key_size)
    pairs = parse_subject(subject)
    dns, ips = parse_subject_alt_names(subject_alt_names)
    cn = dict(pairs).get("CN")
    if not cn:
        raise IssueError("subject: CN (common name) is required")
    if kind == "server" and is_fqdn_or_ip(cn):
        # Clients match host names against subjectAltName only (RFC 6125): a host-like CN goes there too.
        cn_dns, cn_ips = parse_subject_alt_names([cn])
        dns = dns + tuple(d for d in cn_dns if d.lower() not in (x.lower() for x in dns))
        ips = ips + tuple(i for i in cn_ips if i not in ips)
    if kind in ("ca", "intermediate") and (dns or ips):
        raise IssueError(f"subject_alt_names are for server and client certificates, not for kind {kind}")
    valid_days, end, renew = _validity(kind, days, not_after, renew_before_days)
    return CertSpec(kind, pairs, dns, ips, key, valid_days, end, renew)


def _validity(
    kind: str, days: int | None, not_after: Any, renew_before_days: int | None
) -> tuple[int, datetime.datetime | None, int]:
    """(days valid, the fixed end if given, days before the end to renew) of a certificate to issue or sign."""
    if days is not None and not_after not in (None, ""):
        raise IssueError("days and not_after are mutually exclusive")
    valid_days = DEFAULT_DAYS[kind] if days is None else int(days)
    if valid_days < 1:
        raise IssueError(f"days must be at least 1, not {valid_days}")
    renew = DEFAULT_RENEW_BEFORE_DAYS if renew_before_days is None else int(renew_before_days)
    if renew < 0:
        raise IssueError("renew_before_days must not be negative")
    return valid_days, parse_not_after(not_after), renew


# --------------------------------------------------------------------------- policy


def _policy_name(policy: Policy | None) -> str:
    if policy is None:
        return "none"
    return policy.profile + (f" ({policy.source})" if policy.source else "")


def _policy_min_days(policy: Policy) -> int:
    return policy.min_days_left if _refuses(policy, "cert.validity") else 0


def policy_min_days(spec: CertSpec, policy: Policy | None) -> int:
    """Remaining validity the policy asks of this certificate (client certificates are never uploaded)."""
    return 0 if spec.kind == "client" or policy is None else _policy_min_days(policy)


def renewal_days(spec: CertSpec, policy: Policy | None) -> int:
    """Re-issue when fewer days than this remain: renew_before_days, or the policy's minimum if larger."""
    return max(spec.renew_before_days, policy_min_days(spec, policy))


def _refuses(policy: Policy, rule_id: str) -> bool:
    """Whether a hit of this rule fails a check under this policy (enabled, and an error, not a warning)."""
    default = RULES[rule_id].severity
    return policy.enabled(rule_id) and policy.severity_of(rule_id, default) == ERROR


def key_refusal(info: KeyInfo, policy: Policy | None) -> str | None:
    """Why the policy refuses a key of this type (the key.algorithm rule's decision), or None."""
    if policy is None or not _refuses(policy, "key.algorithm") or key_problem(policy, info) is None:
        return None
    allowed = f": it allows {', '.join(policy.allowed_keys)}" if policy.allowed_keys else ""
    return f"{info.name} is not allowed by policy '{_policy_name(policy)}'{allowed}"


class PolicyRefusal(IssueError):
    """A certificate issuing will not make because a rule of the catalog would refuse it.

    ``rule_id`` and ``rule_message`` are what a check of the certificate, once made, would report."""

    def __init__(self, text: str, rule_id: str, rule_message: str) -> None:
        super().__init__(f"{text} [{rule_id}: {rule_message}]")
        self.rule_id = rule_id
        self.rule_message = rule_message


def check_policy(
    spec: CertSpec, policy: Policy | None, issuer: Issuer | None = None, now: datetime.datetime | None = None
) -> None:
    """Refuse, before anything is made, what the deployment would refuse: the rule catalog's own decisions
    (rules.key_problem, algorithm_problem, identity_problem, days_left_problem) applied to the planned certificate."""
    planned = f"the planned {spec.kind} certificate '{spec.name().rfc4514_string()}'"
    problem = key_problem(policy, spec.key.info) if policy is not None and _refuses(policy, "key.algorithm") else None
    if problem:
        raise PolicyRefusal(
            f"cannot issue a {spec.kind} certificate with a {spec.key.label} key: {key_refusal(spec.key.info, policy)}. "
            "Choose an allowed key_type/key_size or another profile",
            "key.algorithm",
            f"{planned} {problem}",
        )
    if issuer is not None and (policy is None or _refuses(policy, "chain.algorithm")):
        issuer_info = key_info(issuer.certificate.public_key())
        problem = algorithm_problem(spec.key.info, issuer_info, cert_label(issuer.certificate))
        if problem:
            raise PolicyRefusal(
                f"the issuer {issuer.name} has an {issuer_info.algorithm} key but key_type is {spec.key.key_type}: "
                "the cloud requires the certificate's algorithm to match its signing CA's",
                "chain.algorithm",
                f"{planned} {problem}",
            )
    if spec.kind == "server" and policy is not None and _refuses(policy, "cert.identity"):
        problem = identity_problem(policy, spec.dns_names, spec.ip_addresses, dict(spec.subject).get("CN"))
        if problem:
            given = ", ".join(spec.subject_alt_names) or "none"
            raise PolicyRefusal(
                "a server certificate needs the deployment's fully qualified domain name or IP address in "
                "subject_alt_names (for example DNS:mqtt.example.com or IP:203.0.113.10; a name without a dot such "
                f"as localhost does not count): the cloud refuses a certificate without one (given: {given})",
                "cert.identity",
                f"{planned} {problem}",
            )
    if policy_min_days(spec, policy) and policy is not None:
        now = now or utcnow()
        expiry = planned_not_after(spec, issuer, now)
        problem = days_left_problem(policy, expiry, now)
        if problem:
            raise PolicyRefusal(
                f"a {spec.kind} certificate valid until {expiry.date().isoformat()} has fewer than the "
                f"{policy.min_days_left} days of validity that policy '{_policy_name(policy)}' requires: raise days "
                "or not_after" + (" (or renew the issuing CA, which expires first)" if issuer is not None else ""),
                "cert.validity",
                f"{planned} {problem}",
            )


# --------------------------------------------------------------------------- keys and issuers


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def generate_key(spec: KeySpec) -> Any:
    if spec.key_type == "ec":
        curves: dict[int, Any] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}
        return ec.generate_private_key(curves[spec.key_size]())
    return rsa.generate_private_key(public_exponent=65537, key_size=spec.key_size)


def private_key_pem(private_key: Any) -> bytes:
    """Unencrypted traditional PEM (``RSA PRIVATE KEY`` / ``EC PRIVATE KEY``): the seed's format."""
    return bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )


def load_private_key(data: bytes, name: str, passphrase: bytes | None = None) -> Any:
    """Load one private key or raise IssueError naming ``name`` (never the key's bytes)."""
    if passphrase is not None:
        try:
            return load_pem_private_key(data, passphrase)
        except (ValueError, TypeError, PasswordRequired):
            raise IssueError(f"{name}: cannot decrypt the private key with the given passphrase") from None
        except Exception as exc:  # the message must never carry key material
            raise IssueError(f"{name}: unreadable private key ({type(exc).__name__})") from None
    material = read_bytes(data, name)
    keys = material.private_keys
    if not keys:
        what = {"vault": "an Ansible Vault file", "pkcs12": "a PKCS#12 file", "empty": "empty"}.get(material.form)
        detail = what or "no private key in it"
        raise IssueError(f"{name}: not a readable private key ({detail})")
    if len(keys) > 1:
        raise IssueError(f"{name}: holds {len(keys)} private keys; keep one key per file")
    block = keys[0]
    if block.encrypted:
        raise IssueError(f"{name}: the private key is encrypted (passphrase-protected)")
    if block.private_key is None:
        raise IssueError(f"{name}: the private key cannot be parsed ({block.parse_error or 'unknown format'})")
    return block.private_key


def load_certificate(data: bytes, name: str) -> Any:
    material = read_bytes(data, name)
    certs = [b.certificate for b in material.certificates if b.certificate is not None]
    if not certs:
        raise IssueError(f"{name}: no readable certificate in it")
    return certs[0]


@dataclass
class Issuer:
    certificate: Any
    key: Any
    name: str

    @property
    def subject(self) -> str:
        return str(self.certificate.subject.rfc4514_string())


def load_issuer(
    cert_data: bytes, cert_name: str, key_data: bytes, key_name: str, passphrase: bytes | None = None
) -> Issuer:
    certificate = load_certificate(cert_data, cert_name)
    key = load_private_key(key_data, key_name, passphrase)
    if public_key_der(key.public_key()) != public_key_der(certificate.public_key()):
        raise IssueError(f"{key_name} is not the private key of the issuer certificate {cert_name}")
    if _basic_constraints(certificate) is None or not _basic_constraints(certificate).ca:
        raise IssueError(
            f"{cert_name} is not a CA certificate (basicConstraints CA:TRUE): it cannot issue certificates"
        )
    usage = _extension(certificate, ExtensionOID.KEY_USAGE)
    if usage is not None and not usage.key_cert_sign:
        raise IssueError(f"{cert_name}: its keyUsage does not allow signing certificates (keyCertSign)")
    return Issuer(certificate, key, cert_name)


# --------------------------------------------------------------------------- building


def _extension(cert: Any, oid: Any) -> Any:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def _basic_constraints(cert: Any) -> Any:
    return _extension(cert, ExtensionOID.BASIC_CONSTRAINTS)


_USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _key_usage(kind: str, key_type: str) -> set[str]:
    if kind in ("ca", "intermediate"):
        return {"key_cert_sign", "crl_sign"}
    if kind == "server" and key_type == "rsa":
        return {"digital_signature", "key_encipherment"}
    return {"digital_signature"}


def _profile(kind: str, key_type: str) -> dict[str, Any]:
    """The extensions that define a kind, in a comparable form."""
    eku = {"server": ["serverAuth"], "client": ["clientAuth"]}.get(kind, [])
    return {
        "ca": kind in ("ca", "intermediate"),
        "path_length": 0 if kind == "intermediate" else None,
        "key_usage": sorted(_key_usage(kind, key_type)),
        "extended_key_usage": eku,
    }


def _existing_profile(cert: Any) -> dict[str, Any]:
    constraints = _basic_constraints(cert)
    usage = _extension(cert, ExtensionOID.KEY_USAGE)
    eku = _extension(cert, ExtensionOID.EXTENDED_KEY_USAGE)
    names = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
    usages: list[str] = []
    if usage is not None:
        usages = sorted(f for f in _USAGE_FIELDS if getattr(usage, f))
    return {
        "ca": bool(constraints.ca) if constraints is not None else None,
        "path_length": constraints.path_length if constraints is not None else None,
        "key_usage": usages,
        "extended_key_usage": sorted(names.get(oid, oid.dotted_string) for oid in eku) if eku is not None else [],
    }


def _hash_for(private_key: Any) -> Any:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {384: hashes.SHA384(), 521: hashes.SHA512()}.get(private_key.curve.key_size, hashes.SHA256())
    return hashes.SHA256()


def _san_extension(spec: CertSpec) -> Any:
    names: list[Any] = [x509.DNSName(d) for d in spec.dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in spec.ip_addresses]
    return x509.SubjectAlternativeName(names) if names else None


def _eku_extension(spec: CertSpec) -> Any:
    if spec.kind == "server":
        return x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    if spec.kind == "client":
        return x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    return None


def planned_not_after(spec: CertSpec, issuer: Issuer | None, now: datetime.datetime) -> datetime.datetime:
    """The expiry a new certificate gets: not_after or now + days, never beyond the issuer's own expiry."""
    expiry = spec.not_after or (now + datetime.timedelta(days=spec.days))
    if issuer is not None:
        expiry = min(expiry, not_valid_after(issuer.certificate))
    return expiry


def _add_usage_extensions(builder: Any, spec: CertSpec) -> Any:
    """What a certificate and its CSR both carry: basicConstraints, keyUsage, extendedKeyUsage, subjectAltName."""
    usage = _key_usage(spec.kind, spec.key.key_type)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=spec.is_ca, path_length=0 if spec.kind == "intermediate" else None), critical=True
    ).add_extension(
        x509.KeyUsage(
            digital_signature="digital_signature" in usage,
            content_commitment=False,
            key_encipherment="key_encipherment" in usage,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign="key_cert_sign" in usage,
            crl_sign="crl_sign" in usage,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    for extension in (_eku_extension(spec), _san_extension(spec)):
        if extension is not None:
            builder = builder.add_extension(extension, critical=False)
    return builder


def build_certificate(
    spec: CertSpec,
    private_key: Any,
    issuer: Issuer | None,
    now: datetime.datetime | None = None,
    *,
    public_key: Any = None,
) -> Any:
    """Sign a certificate for ``private_key`` (or only ``public_key``, from a CSR: then ``issuer`` signs)."""
    now = now or utcnow()
    public_key = public_key if public_key is not None else private_key.public_key()
    subject = spec.name()
    signer_key = issuer.key if issuer is not None else private_key
    issuer_name = issuer.certificate.subject if issuer is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(planned_not_after(spec, issuer, now))
    )
    builder = _add_usage_extensions(builder, spec)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer is not None:
        ski = _extension(issuer.certificate, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        aki = (
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
            if ski is not None
            else x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        )
    else:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    builder = builder.add_extension(aki, critical=False)
    return builder.sign(signer_key, _hash_for(signer_key))


def build_csr(spec: CertSpec, private_key: Any) -> Any:
    builder = _add_usage_extensions(x509.CertificateSigningRequestBuilder().subject_name(spec.name()), spec)
    return builder.sign(private_key, _hash_for(private_key))


# --------------------------------------------------------------------------- the decision


def _public_fingerprint(public_key: Any) -> str:
    return hashlib.sha256(public_key_der(public_key)).hexdigest()


# What issuing returns about a certificate (and predicts in check mode: predicted_summary has these keys).
SUMMARY_KEYS = (
    "subject",
    "subject_alt_names",
    "issuer",
    "serial",
    "not_before",
    "not_after",
    "fingerprint_sha256",
    "key_type",
    "key_size",
    "public_key_sha256",
)


def cert_summary(cert: Any) -> dict[str, Any]:
    """Public facts for diffs and results (never key material): the engine's one description, in part."""
    return describe_certificate(cert, keys=SUMMARY_KEYS)


def _sans(cert: Any) -> tuple[list[str], list[str]]:
    san = _extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        return [], []
    return [str(v) for v in san.get_values_for_type(x509.DNSName)], [
        str(v) for v in san.get_values_for_type(x509.IPAddress)
    ]


@dataclass
class Plan:
    """What a run changes. ``key_action``: keep | create | regenerate | none;
    ``cert_action`` / ``csr_action``: keep | write | none."""

    key_action: str
    cert_action: str
    csr_action: str
    fix_key_mode: bool
    changes: list[str]
    key: Any = None  # the existing key, kept (None when a new one is needed)
    certificate: Any = None  # the existing certificate, kept
    before: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def needs_new_key(self) -> bool:
        return self.key_action in ("create", "regenerate")


def decide(
    spec: CertSpec,
    *,
    key_data: bytes | None,
    key_name: str,
    cert_data: bytes | None = None,
    cert_name: str = "certificate",
    csr_data: bytes | None = None,
    want_cert: bool = True,
    want_csr: bool = False,
    issuer: Issuer | None = None,
    policy: Policy | None = None,
    regenerate_key: bool = False,
    key_mode: int | None = None,
    now: datetime.datetime | None = None,
) -> Plan:
    """Pure: compare what exists (bytes) with ``spec`` and say what must change and why.

    Raises IssueError for input this module refuses (a policy-refused key type, an unreadable
    existing key without ``regenerate_key``, a missing issuer).
    """
    now = now or utcnow()
    if want_cert and spec.needs_issuer and issuer is None:
        raise IssueError(f"a {spec.kind} certificate needs issuer_certificate_path and issuer_key_path (or content)")
    if spec.kind == "ca" and issuer is not None:
        raise IssueError("a ca certificate is self-signed: drop the issuer options, or use kind: intermediate")
    check_policy(spec, policy, issuer if want_cert else None, now)
    changes: list[str] = []

    # The key: keep it unless it is missing, no longer fits, or regenerate_key asks for a new one.
    key: Any = None
    if key_data is None:
        key_action = "create"
        changes.append(f"private key {key_name} does not exist: generate a {spec.key.label} key")
    else:
        try:
            key = load_private_key(key_data, key_name)
        except IssueError as exc:
            if not regenerate_key:
                raise IssueError(
                    f"{exc}. It is left untouched: fix or remove the file, or set regenerate_key: true "
                    "(with backup: true) to replace it"
                ) from None
            key = None
        if regenerate_key:
            key_action = "regenerate"
            changes.append(f"regenerate_key: replace private key {key_name} with a new {spec.key.label} key")
            key = None
        else:
            # A key the user has is never replaced behind their back: only regenerate_key (with a backup) does.
            info = key_info(key.public_key())
            refusal = key_refusal(info, policy)
            if refusal:
                raise IssueError(
                    f"private key {key_name}: {refusal}. It is left untouched: set regenerate_key: true to replace "
                    "it with a key the policy allows (a backup copy is kept), or choose a profile that allows it"
                )
            if info != spec.key.info:
                raise IssueError(
                    f"private key {key_name} is {info.name}, but key_type/key_size ask for {spec.key.info.name}. "
                    "It is left untouched: set regenerate_key: true to replace it (a backup copy is kept), "
                    "or point private_key_path at a new file"
                )
            key_action = "keep"
    fix_key_mode = False
    if key_action == "keep" and key_mode is not None and (key_mode & 0o7777) != KEY_MODE:
        fix_key_mode = True
        changes.append(f"private key {key_name} has mode {key_mode & 0o7777:04o}: set it to {KEY_MODE:04o}")

    # The certificate.
    cert_action = "none"
    existing = None
    before: dict[str, Any] = {}
    if want_cert:
        reasons: list[str] = []
        if cert_data is None:
            reasons.append(f"certificate {cert_name} does not exist: issue it")
        else:
            try:
                existing = load_certificate(cert_data, cert_name)
            except IssueError as exc:
                reasons.append(f"{exc}: issue a new one")
            if existing is not None:
                before = cert_summary(existing)
                reasons += _cert_mismatches(existing, spec, key, issuer, policy, now)
        if key is None and not reasons:
            reasons.append("the private key changes: re-issue the certificate")
        if reasons:
            cert_action = "write"
            changes += reasons
            existing = None
        else:
            cert_action = "keep"

    csr_action = "none"
    if want_csr:
        csr_reason = _csr_mismatch(csr_data, spec, key)
        if csr_reason:
            csr_action = "write"
            changes.append(csr_reason)
        else:
            csr_action = "keep"
    return Plan(key_action, cert_action, csr_action, fix_key_mode, changes, key, existing, before)


def _cert_mismatches(
    cert: Any, spec: CertSpec, key: Any, issuer: Issuer | None, policy: Policy | None, now: datetime.datetime
) -> list[str]:
    reasons: list[str] = []
    if key is not None and public_key_der(cert.public_key()) != public_key_der(key.public_key()):
        reasons.append("the certificate does not belong to the private key")
    if name_pairs(cert.subject) != name_pairs(spec.name()):
        reasons.append(f"subject is {cert.subject.rfc4514_string() or '(empty)'}, wanted {subject_text(spec.subject)}")
    dns, ips = _sans(cert)
    have = {("DNS", d.lower()) for d in dns} | {("IP", i) for i in ips}
    want = {("DNS", d.lower()) for d in spec.dns_names} | {("IP", i) for i in spec.ip_addresses}
    if have != want:
        added = sorted(f"{t}:{v}" for t, v in want - have)
        removed = sorted(f"{t}:{v}" for t, v in have - want)
        detail = "; ".join(
            part
            for part in (f"add {', '.join(added)}" if added else "", f"remove {', '.join(removed)}" if removed else "")
            if part
        )
        reasons.append(f"subject_alt_names change: {detail}")
    if _existing_profile(cert) != _profile(spec.kind, spec.key.key_type):
        reasons.append(
            f"the certificate's extensions do not make it a {spec.kind} certificate (basicConstraints, keyUsage, extendedKeyUsage)"
        )
    if cert.version != x509.Version.v3:
        reasons.append("the certificate is not X.509 v3")
    if issuer is None:
        if not is_signed_by(cert, cert):
            reasons.append("the certificate is not self-signed")
    elif not is_signed_by(cert, issuer.certificate):
        reasons.append(f"the certificate is not signed by the issuer {issuer.name} ({issuer.subject})")
    refusal = key_refusal(key_info(cert.public_key()), policy)
    if refusal and key is not None:
        reasons.append(f"the certificate's key: {refusal}")
    if spec.not_after is not None and not_valid_after(cert) != planned_not_after(spec, issuer, now):
        reasons.append(f"not_after is {not_valid_after(cert).isoformat()}, wanted {spec.not_after.isoformat()}")
    if not_valid_before(cert) > now:
        reasons.append(f"the certificate is not valid before {not_valid_before(cert).isoformat()}")
    left = (not_valid_after(cert) - now).days
    threshold = renewal_days(spec, policy)
    if left < threshold and spec.not_after is None:
        why = "renew_before_days" if threshold == spec.renew_before_days else f"policy '{_policy_name(policy)}' minimum"
        reasons.append(f"the certificate expires in {left} days, fewer than {threshold} ({why}): renew it")
    return reasons


def _csr_mismatch(csr_data: bytes | None, spec: CertSpec, key: Any) -> str | None:
    if csr_data is None:
        return "the CSR does not exist: write it"
    material = read_bytes(csr_data, "csr")
    csrs = [b.csr for b in material.blocks if b.kind == "csr" and b.csr is not None]
    if not csrs:
        return "the CSR file holds no readable CSR: write it"
    csr = csrs[0]
    if key is None or public_key_der(csr.public_key()) != public_key_der(key.public_key()):
        return "the CSR does not carry the private key: write it"
    if name_pairs(csr.subject) != name_pairs(spec.name()):
        return "the CSR's subject changes: write it"
    try:
        san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        have = {("DNS", str(v).lower()) for v in san.get_values_for_type(x509.DNSName)} | {
            ("IP", str(v)) for v in san.get_values_for_type(x509.IPAddress)
        }
    except (x509.ExtensionNotFound, ValueError):
        have = set()
    want = {("DNS", d.lower()) for d in spec.dns_names} | {("IP", i) for i in spec.ip_addresses}
    if have != want:
        return "the CSR's subject_alt_names change: write it"
    return None


def predicted_summary(spec: CertSpec, plan: Plan, issuer: Issuer | None, now: datetime.datetime) -> dict[str, Any]:
    """What the certificate will look like after the run (check mode cannot know serial or fingerprint)."""
    if plan.cert_action == "keep" and plan.certificate is not None:
        return cert_summary(plan.certificate)
    if plan.cert_action == "none":
        return {}
    issuer_subject = issuer.subject if issuer is not None else str(spec.name().rfc4514_string())
    return {
        "subject": str(spec.name().rfc4514_string()),
        "subject_alt_names": spec.subject_alt_names,
        "issuer": issuer_subject,
        "serial": "(new random serial)",
        "not_before": (now - BACKDATE).isoformat(),
        "not_after": planned_not_after(spec, issuer, now).isoformat(),
        "fingerprint_sha256": "(new certificate)",
        "key_type": spec.key.info.algorithm,
        "key_size": spec.key.key_size,
        "public_key_sha256": colon_hex(_public_fingerprint(plan.key.public_key()))
        if plan.key is not None
        else "(new key)",
    }


# --------------------------------------------------------------------------- files


@dataclass
class Target:
    """One key/certificate pair to manage."""

    spec: CertSpec
    key_path: str
    path: str | None = None
    csr_path: str | None = None
    name: str | None = None  # a label for batch results (the client name)


@dataclass
class Outcome:
    target: Target
    plan: Plan
    changed: bool
    result: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    if not os.path.lexists(path):
        return None
    try:
        return read_regular(path)  # a FIFO or a device at a key's path is never read (it would hang or fill memory)
    except Unreadable as exc:
        if exc.errno == errno.ENOENT:  # a dangling link: nothing there yet
            return None
        raise IssueError(f"{path}: {exc.reason}") from None
    except InputError as exc:
        raise IssueError(f"{path}: {exc.reason}") from None


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def plan_target(
    target: Target,
    *,
    issuer: Issuer | None,
    policy: Policy | None,
    regenerate_key: bool,
    now: datetime.datetime,
) -> Plan:
    return decide(
        target.spec,
        key_data=_read(target.key_path),
        key_name=target.key_path,
        cert_data=_read(target.path),
        cert_name=target.path or "certificate",
        csr_data=_read(target.csr_path),
        want_cert=target.path is not None,
        want_csr=target.csr_path is not None,
        issuer=issuer,
        policy=policy,
        regenerate_key=regenerate_key,
        key_mode=_mode(target.key_path),
        now=now,
    )


def apply_plan(
    target: Target,
    plan: Plan,
    *,
    issuer: Issuer | None,
    now: datetime.datetime,
    check_mode: bool,
    backup: bool,
    new_key: Any = None,
) -> Outcome:
    """Carry out ``plan`` (unless check mode) and describe the result. ``new_key`` when one was made elsewhere."""
    spec = target.spec
    backups: dict[str, str] = {}
    key = plan.key
    cert = plan.certificate
    if not check_mode:
        outputs: list[Output] = []
        labels: dict[str, str] = {}
        if plan.needs_new_key:
            key = new_key if new_key is not None else generate_key(spec.key)
            # Replacing an existing key is what regenerate_key asked for; write_outputs keeps a 0600 backup of it.
            outputs.append(
                Output(target.key_path, private_key_pem(key), "private_key_path", private=True, replace=True)
            )
            labels[target.key_path] = "private_key"
        if plan.cert_action == "write" and target.path is not None:
            cert = build_certificate(spec, key, issuer, now)
            outputs.append(Output(target.path, cert.public_bytes(serialization.Encoding.PEM), "path"))
            labels[target.path] = "certificate"
        if plan.csr_action == "write" and target.csr_path is not None:
            csr = build_csr(spec, key)
            outputs.append(Output(target.csr_path, csr.public_bytes(serialization.Encoding.PEM), "csr_path"))
            labels[target.csr_path] = "csr"
        inputs = [issuer.name] if issuer is not None and os.path.isfile(issuer.name) else []
        try:
            written = write_outputs(outputs, inputs=inputs, force_hint="", backup=backup)
        except WriteError as exc:
            raise IssueError(str(exc)) from None
        for path, copy in written.backups.items():
            backups[labels[path]] = copy
        if plan.fix_key_mode and not plan.needs_new_key:
            os.chmod(target.key_path, KEY_MODE)
    if check_mode or cert is None:
        after = predicted_summary(spec, plan, issuer, now)
    else:
        after = cert_summary(cert)
    if key is not None:
        info = key_info(key.public_key())
        key_facts: dict[str, Any] = {
            "key_type": info.algorithm,
            "key_size": info.size,
            "public_key_sha256": colon_hex(_public_fingerprint(key.public_key())),
        }
    else:
        key_facts = {"key_type": spec.key.info.algorithm, "key_size": spec.key.key_size, "public_key_sha256": None}
    result: dict[str, Any] = {
        "changed": plan.changed,
        "changes": list(plan.changes),
        "path": target.path,
        "private_key_path": target.key_path,
        "csr_path": target.csr_path,
        "kind": spec.kind,
        "key_action": plan.key_action,
        "certificate_action": plan.cert_action,
        "csr_action": plan.csr_action,
        "subject": after.get("subject") or str(spec.name().rfc4514_string()),
        "subject_alt_names": after.get("subject_alt_names", spec.subject_alt_names),
        "issuer": after.get("issuer"),
        "serial": after.get("serial"),
        "not_before": after.get("not_before"),
        "not_after": after.get("not_after"),
        "fingerprint_sha256": after.get("fingerprint_sha256"),
        "backup_files": backups,
        **key_facts,
    }
    before = dict(plan.before)
    if target.key_path is not None:
        before_key = "(none)" if plan.key_action == "create" else ("(replaced)" if plan.needs_new_key else "(kept)")
        before["private_key"] = before_key
    after_view = dict(after)
    after_view["private_key"] = {"keep": "(kept)", "create": "(new key)", "regenerate": "(new key)"}.get(
        plan.key_action, "(none)"
    )
    return Outcome(target, plan, plan.changed, result, before, after_view)


def manage(
    target: Target,
    *,
    issuer: Issuer | None = None,
    policy: Policy | None = None,
    regenerate_key: bool = False,
    check_mode: bool = False,
    backup: bool = False,
    now: datetime.datetime | None = None,
) -> Outcome:
    """Decide and (unless check mode) write one key, certificate and CSR."""
    now = now or utcnow()
    plan = plan_target(target, issuer=issuer, policy=policy, regenerate_key=regenerate_key, now=now)
    return apply_plan(target, plan, issuer=issuer, now=now, check_mode=check_mode, backup=backup)


# --------------------------------------------------------------------------- many at once


def safe_name(name: str) -> str:
    """A client name usable as CN and file stem: letters, digits, ``._@+-``, not starting with a dot."""
    text = str(name)
    if not _SAFE_NAME.match(text) or text in (".", ".."):
        raise IssueError(
            f"client name {text!r} cannot be a file name: use letters, digits and . _ @ + - "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return text


def _keygen_worker(key_type: str, key_size: int) -> bytes:
    """Runs in a worker process: generate one key and return it as DER (PKCS#8, unencrypted, in memory only)."""
    key = generate_key(KeySpec(key_type, key_size))
    return bytes(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _thread_keygen(key_type: str, key_size: int) -> Any:
    return generate_key(KeySpec(key_type, key_size))


def worker_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def generate_keys(specs: Sequence[KeySpec], *, workers: int | None = None, mode: str = "auto") -> tuple[list[Any], str]:
    """Generate one key per spec on all cores; returns (keys, how): process, thread or serial.

    ``auto`` uses worker processes (fork) and falls back to threads (cryptography releases the GIL
    while generating keys) when processes cannot start, as inside some sandboxes.
    """
    import concurrent.futures  # here, not at the top: a module that issues one certificate never needs them
    import concurrent.futures.process
    import multiprocessing

    count = workers or worker_count()
    if not specs:
        return [], "none"
    if mode == "serial" or count == 1 or len(specs) == 1:
        return [generate_key(s) for s in specs], "serial"
    if mode in ("auto", "process"):
        try:
            context = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(max_workers=min(count, len(specs)), mp_context=context) as pool:
                futures = [pool.submit(_keygen_worker, s.key_type, s.key_size) for s in specs]
                ders = [f.result() for f in futures]
            keys = [load_der_private_key(der) for der in ders]
            return keys, "process"
        except (
            OSError,
            ValueError,
            RuntimeError,
            ImportError,
            concurrent.futures.process.BrokenProcessPool,
            AttributeError,
        ):
            if mode == "process":
                raise
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(count, len(specs))) as threads:
        keys = list(threads.map(lambda s: _thread_keygen(s.key_type, s.key_size), specs))
    return keys, "thread"


def enumerate_as(indexes: Sequence[int], values: Iterable[Any]) -> dict[int, Any]:
    """{indexes[n]: the n-th value} (zip(strict=True) is Python 3.10+; the engine runs on 3.9)."""
    out = {}
    for n, value in enumerate(values):
        out[indexes[n]] = value
    if len(out) != len(indexes):
        raise RuntimeError(f"{len(out)} results for {len(indexes)} items")
    return out


def manage_many(
    targets: Sequence[Target],
    *,
    issuer: Issuer,
    policy: Policy | None = None,
    regenerate_key: bool = False,
    check_mode: bool = False,
    backup: bool = False,
    now: datetime.datetime | None = None,
    workers: int | None = None,
    parallel: str = "auto",
    keygen: Callable[..., tuple[list[Any], str]] | None = None,
) -> tuple[list[Outcome], str]:
    """Plan every target, generate the keys needed on all cores, then write. Returns (outcomes, how keys were made).

    Keys are made in batches of KEYGEN_BATCH and written while the next batch is made, so at most two batches of
    keys are in memory however many names there are.
    """
    now = now or utcnow()
    plans = [plan_target(t, issuer=issuer, policy=policy, regenerate_key=regenerate_key, now=now) for t in targets]
    need = [i for i, p in enumerate(plans) if p.needs_new_key]
    how = "none"
    generator = keygen or generate_keys

    def apply(index: int, new_key: Any = None) -> Outcome:
        target, plan = targets[index], plans[index]
        return apply_plan(target, plan, issuer=issuer, now=now, check_mode=check_mode, backup=backup, new_key=new_key)

    if check_mode or len(need) < 2:
        new_keys: dict[int, Any] = {}
        if need and not check_mode:
            keys, how = generator([targets[i].spec.key for i in need], workers=workers, mode=parallel)
            new_keys = {index: keys[n] for n, index in enumerate(need)}
        return [apply(i, new_keys.get(i)) for i in range(len(targets))], how
    # Signing is quick; writing is mostly waiting for fsync, which threads overlap with the next batch's keys.
    import concurrent.futures

    outcomes: dict[int, Outcome] = {}
    needed = set(need)
    # cryptography 35-41 cannot share the issuer's certificate across threads: there one writer signs at a time.
    writer_threads = WRITER_THREADS if SHARE_ACROSS_THREADS else 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=writer_threads) as writers:
        rest = [i for i in range(len(targets)) if i not in needed]
        pending = [(rest, writers.map(apply, rest))]
        for start in range(0, len(need), KEYGEN_BATCH):
            batch = need[start : start + KEYGEN_BATCH]
            keys, how = generator([targets[i].spec.key for i in batch], workers=workers, mode=parallel)
            pending.append((batch, writers.map(apply, batch, keys)))
            del keys
            while len(pending) > 1:  # the previous batch is written before more keys are made
                indexes, done = pending.pop(0)
                outcomes.update(enumerate_as(indexes, done))
        for indexes, done in pending:
            outcomes.update(enumerate_as(indexes, done))
    return [outcomes[i] for i in range(len(targets))], how


# --------------------------------------------------------------------------- signing a request (enrolment)


@dataclass
class Signed:
    """The outcome of :func:`sign_csr`: the certificate to hand back (new, or the existing one kept)."""

    certificate: Any
    changed: bool
    changes: list[str]
    summary: dict[str, Any]
    before: dict[str, Any] = field(default_factory=dict)


def load_csr(data: bytes, name: str) -> Any:
    """The first certificate signing request in ``data``, its self-signature verified."""
    material = read_bytes(data, name)
    csrs = [b.csr for b in material.blocks if b.kind == "csr" and b.csr is not None]
    if not csrs:
        raise IssueError(f"{name}: no readable certificate signing request (BEGIN CERTIFICATE REQUEST) in it")
    csr = csrs[0]
    if not csr.is_signature_valid:
        raise IssueError(
            f"{name}: the request's signature does not verify (it was not made with the key it carries): make it again"
        )
    return csr


def csr_spec(
    csr: Any,
    kind: str = "client",
    *,
    days: int | None = None,
    not_after: Any = None,
    renew_before_days: int | None = None,
    name: str = "csr",
) -> CertSpec:
    """What a certificate for ``csr`` is: the request's subject, subjectAltNames and key; the signer's kind and dates."""
    if kind not in ("server", "client"):
        raise IssueError(f"kind must be server or client to sign a request, not {kind!r}")
    info = key_info(csr.public_key())
    if info.algorithm not in ("RSA", "EC"):
        raise IssueError(f"{name}: the request carries an {info.algorithm} key; only RSA and EC keys are issued")
    try:
        key = key_spec(info.algorithm.lower(), info.size)
    except IssueError as exc:
        raise IssueError(f"{name}: {exc}") from None
    shorts = {getattr(NameOID, attr).dotted_string: short for short, attr, _long in _SUBJECT_FIELDS}
    unknown = [attr.oid.dotted_string for attr in csr.subject if attr.oid.dotted_string not in shorts]
    if unknown:
        raise IssueError(
            f"{name}: the request's subject has attributes this CA does not issue ({', '.join(unknown)}); "
            "use C, ST, L, O, OU, CN and emailAddress"
        )
    pairs = tuple((shorts[attr.oid.dotted_string], str(attr.value)) for attr in csr.subject)
    if not dict(pairs).get("CN"):
        raise IssueError(f"{name}: the request's subject has no CN (common name)")
    try:
        san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        dns = tuple(str(v) for v in san.get_values_for_type(x509.DNSName))
        ips = tuple(str(v) for v in san.get_values_for_type(x509.IPAddress))
    except (x509.ExtensionNotFound, ValueError):
        dns, ips = (), ()
    valid_days, end, renew = _validity(kind, days, not_after, renew_before_days)
    return CertSpec(kind, pairs, dns, ips, key, valid_days, end, renew)


def sign_csr(
    csr_data: bytes,
    csr_name: str,
    issuer: Issuer,
    *,
    kind: str = "client",
    days: int | None = None,
    not_after: Any = None,
    renew_before_days: int | None = None,
    existing: bytes | None = None,
    existing_name: str = "certificate",
    policy: Policy | None = None,
    check_mode: bool = False,
    now: datetime.datetime | None = None,
) -> Signed:
    """Sign ``csr_data`` with ``issuer``, unless ``existing`` already is a fitting certificate for it.

    The signer sees only the request (a public key and names): the device's private key never reaches it.
    ``existing`` is kept while it carries the request's key, subject and names, the kind's extensions, the
    issuer's signature and more than the renewal window of validity (so enrolment is idempotent). In check mode
    nothing is signed and the existing certificate (if any) is returned.
    """
    now = now or utcnow()
    csr = load_csr(csr_data, csr_name)
    spec = csr_spec(csr, kind, days=days, not_after=not_after, renew_before_days=renew_before_days, name=csr_name)
    check_policy(spec, policy, issuer, now)
    cert = None
    if existing is None:
        reasons = ["no certificate yet: sign the request"]
    else:
        try:
            cert = load_certificate(existing, existing_name)
        except IssueError as exc:
            reasons = [f"{exc}: sign the request again"]
        else:
            reasons = []
            if public_key_der(cert.public_key()) != public_key_der(csr.public_key()):
                reasons.append("the certificate does not carry the request's key")
            reasons += _cert_mismatches(cert, spec, None, issuer, policy, now)
    before = cert_summary(cert) if cert is not None else {}
    if not reasons:
        return Signed(cert, False, [], before, before)
    if check_mode:
        return Signed(cert, True, reasons, before, before)
    new = build_certificate(spec, None, issuer, now, public_key=csr.public_key())
    return Signed(new, True, reasons, cert_summary(new), before)
