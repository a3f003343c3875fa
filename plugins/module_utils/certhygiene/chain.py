# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate chains: find the leaf of a bundle, order it, split it, and complete it.

The seed's two common problems: a certificate file that holds the user certificate,
the intermediates and the root (split it: leaf to the certificate file, intermediates
in issuing order to the chain), and a missing chain (complete it).

Completion is real path building: a depth-first search from the leaf up, with
backtracking over every candidate issuer whose subject matches the certificate's
issuer (and whose subject key identifier matches its authority key identifier when
both are present), checking every signature (``facts.is_signed_by``: RSA PKCS#1 v1.5
and PSS, ECDSA, EdDSA), never visiting a (subject, key) pair twice on one path
(cycles, cross-certificates that lead back). Candidates come from the bundle itself,
from local files and folders, and from the AIA ``caIssuers`` URL of each certificate
(``http://`` only, DER, PEM or PKCS#7 certs-only, with a timeout and a size limit,
through a small transport callable so the engine needs nothing beyond the standard
library). Of all the paths found, the best one wins, in this order:

1. it ends at a root the user trusts (``roots``) and holds no expired certificate;
2. it ends at a self-signed root and holds no expired certificate;
3. it ends at a trusted or self-signed root but holds an expired (or not yet valid)
   certificate: expired candidates are a last resort, never skipped outright, so a
   chain that cannot be completed otherwise still is, with a warning;
4. it stops at a certificate whose issuer was not found (longest first).

Within a rank the shorter complete path (or the longer incomplete one) wins; ties go
to the first found, and candidates are tried in a fixed order (currently valid first,
then trusted, then the latest ``notAfter``, then fingerprint), so the result is
deterministic.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import facts
from ._crypto import ExtensionOID, pkcs7, serialization, x509
from .inputs import DEFAULT_MAX_BYTES, InputError, read_regular
from .material import Material, read_bytes, to_pem

if TYPE_CHECKING:
    import http.client

#: Seconds one AIA download may take in all (connecting, redirects, a server that answers a byte at a time).
AIA_TIMEOUT = 10.0
#: The AIA downloads of one run stop after this many times the per-URL timeout.
AIA_RUN_BUDGET_FACTOR = 3
#: Largest AIA response accepted (a certificate is ~2 KiB, a PKCS#7 bundle a few dozen).
AIA_MAX_BYTES = 1024 * 1024
#: Longest path considered (leaf included).
MAX_DEPTH = 12
#: Search budget: nodes visited before the builder settles for the best path so far.
MAX_STEPS = 20000
#: Files larger than this are not read from candidate folders.
MAX_FILE_BYTES = DEFAULT_MAX_BYTES

#: ``fetch(url, timeout, max_bytes) -> body``; raises on any failure (the message is shown to the user).
Fetcher = Callable[[str, float, int], bytes]


class ChainError(ValueError):
    """A bundle or chain the engine cannot put in shape; the message says what and how to fix it."""


class FetchError(Exception):
    """An AIA download failed."""


@dataclass(frozen=True)
class Candidate:
    """A certificate that may appear in a path, and where it came from."""

    cert: Any  # x509.Certificate
    source: str  # a file path, "AIA http://...", or the bundle's name
    trusted: bool = False

    @property
    def fingerprint(self) -> str:
        return facts.sha256_fingerprint(self.cert)


@dataclass
class ChainResult:
    """A leaf and the best path found above it."""

    path: list[Candidate]  # path[0] is the leaf, path[i + 1] issued path[i]
    complete: bool  # ends at a self-signed or trusted certificate
    trusted: bool  # ends at a certificate from ``roots``
    missing_issuer: str | None = None  # issuer name of the top when incomplete
    looked_in: list[str] = field(default_factory=list)
    unused: list[Any] = field(default_factory=list)  # input certificates left out of the path
    notes: list[str] = field(default_factory=list)  # AIA failures and the like

    @property
    def leaf(self) -> Any:
        return self.path[0].cert

    @property
    def root(self) -> Any:
        """The self-signed certificate that ends the path, if any (never the leaf)."""
        if len(self.path) > 1 and facts.is_self_signed(self.path[-1].cert):
            return self.path[-1].cert
        return None

    @property
    def intermediates(self) -> list[Any]:
        """The chain proper: the certificates between the leaf and the root, in issuing order."""
        certs = [c.cert for c in self.path[1:]]
        if self.root is not None:
            certs = certs[:-1]
        return certs

    def chain(self, include_root: bool = False) -> list[Any]:
        certs = self.intermediates
        if include_root and self.root is not None:
            certs = [*certs, self.root]
        return certs

    @property
    def expired(self) -> list[Any]:
        """Certificates of the chain (not the leaf) outside their validity period now."""
        now = datetime.datetime.now(datetime.timezone.utc)
        return [c.cert for c in self.path[1:] if not _valid_at(c.cert, now)]

    def incomplete_message(self) -> str:
        top = self.path[-1].cert
        where = "; ".join(self.looked_in) if self.looked_in else "nowhere (no bundle, folder, root or AIA URL)"
        return (
            f"chain incomplete: the issuer '{self.missing_issuer}' of {facts.cert_label(top)} was not found; "
            f"looked in: {where}. Pass the file or folder that holds it (intermediates/roots)"
            + (", or allow AIA downloads" if not any(w.startswith("AIA ") for w in self.looked_in) else "")
        )


# --------------------------------------------------------------------------------------------------------------
# Reading certificates


def certificates_from_bytes(data: bytes, source: str = "<content>", problems: list[str] | None = None) -> list[Any]:
    """Every certificate in ``data``: PEM (any text between blocks is ignored), DER, or PKCS#7 certs-only.

    A certificate cryptography cannot fully read (a malformed subject or issuer, a bad extension) and PKCS#7 that
    is not a certificate bundle (enveloped data) cannot be used. Without ``problems`` that is a ``ChainError``
    naming ``source`` (splitting or completing without them would lose a certificate silently); with
    ``problems`` (candidates, downloads, summaries) they are left out and a sentence for each goes there."""
    found: list[str] = []
    certs = _certificates(read_bytes(data, source), data, found)
    if problems is not None:
        problems.extend(found)
    elif found:
        raise ChainError(
            f"{source}: {'; '.join(found)}. Fix or remove it (certhygiene check {source} says more), then try again"
        )
    return certs


def _certificates(material: Material, data: bytes, problems: list[str]) -> list[Any]:
    found: list[tuple[int, Any]] = []
    for block in material.blocks:
        if block.kind == "certificate":
            if block.certificate is not None:
                found.append((block.start_line, block.certificate))
            else:
                problems.append(
                    f"the {block.label} block at line {block.start_line} cannot be parsed ({block.parse_error})"
                )
        elif block.kind == "other" and block.label in ("PKCS7", "CMS"):
            where = f"the {block.label} block at line {block.start_line}"
            found.extend((block.start_line, c) for c in _pkcs7_certificates(block.der, where, problems))
    if not found and material.form in ("der", "binary"):
        found = [(1, c) for c in _pkcs7_certificates(data, "", None)]
    certs = []
    for line, cert in found:
        reason = unusable(cert)
        if reason is None:
            certs.append(cert)
        else:
            problems.append(f"the certificate at line {line} cannot be used ({reason})")
    return dedupe(certs)


def _pkcs7_certificates(der: bytes, where: str, problems: list[str] | None) -> list[Any]:
    try:
        return list(pkcs7.load_der_pkcs7_certificates(der))
    except Exception as exc:  # enveloped or signed data cryptography does not load, malformed DER: not a bundle
        if problems is not None:
            detail = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            problems.append(f"{where} is not a PKCS#7 certificate bundle ({detail})")
        return []


def unusable(cert: Any) -> str | None:
    """Why a parsed certificate cannot serve in a chain (None: it can). cryptography parses names, extensions and
    keys lazily: a malformed subject surfaces only when it is read, so read every field a chain needs, now."""
    try:
        cert.subject.public_bytes()
        cert.issuer.public_bytes()
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        list(cert.extensions)
        cert.public_key()
        facts.not_before(cert)
        facts.not_after(cert)
        _der(cert)
    except Exception as exc:  # whatever cryptography raises on a malformed field
        return (str(exc).splitlines() or [type(exc).__name__])[0][:160]
    return None


def dedupe(certs: Iterable[Any]) -> list[Any]:
    """Drop repeated certificates (same DER), keeping the first of each."""
    seen: set[bytes] = set()
    out: list[Any] = []
    for cert in certs:
        der = _der(cert)
        if der not in seen:
            seen.add(der)
            out.append(cert)
    return out


def to_pem_chain(certs: Iterable[Any]) -> bytes:
    """Certificates as PEM, one block after another, nothing in between."""
    return b"".join(to_pem("CERTIFICATE", _der(c)) for c in certs)


def summary(cert: Any) -> str:
    """One line naming a certificate for diffs and messages: subject, issuer, expiry, fingerprint."""
    facts_of = facts.describe_certificate(cert, keys=("subject", "issuer", "not_after", "fingerprint_sha256"))
    return (
        f"subject={facts_of['subject']} issuer={facts_of['issuer']} not_after={facts_of['not_after'][:10]} "
        f"sha256={facts_of['fingerprint_sha256']}"
    )


def load_candidates(paths: Sequence[str], *, trusted: bool = False) -> list[Candidate]:
    """Certificates from files and folders (a folder: its regular files, not recursive, hidden ones skipped).

    A named file with no certificate, or a path that does not exist, raises ``ChainError``;
    files in a folder that hold no certificate are skipped (a folder of mixed material is normal).
    """
    found: list[Candidate] = []
    for path in paths:
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if name.startswith("."):
                    continue
                found.extend(Candidate(c, full, trusted) for c in _read_certs(full))  # not regular or too large: []
        elif os.path.exists(path):
            certs = _read_certs(path, named=True)
            if not certs:
                raise ChainError(f"{path}: no certificate found (expected PEM, DER or PKCS#7 certificates)")
            found.extend(Candidate(c, path, trusted) for c in certs)
        else:
            raise ChainError(f"{path}: no such file or folder")
    return found


def _read_certs(path: str, named: bool = False) -> list[Any]:
    """The usable certificates of ``path``; a file named by the user that cannot be read is a ``ChainError``."""
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except InputError as exc:
        if named:
            raise ChainError(f"{path}: {exc.reason}") from None
        return []
    return certificates_from_bytes(data, path, None if named else [])


# --------------------------------------------------------------------------------------------------------------
# The leaf


def find_leaf(certs: Sequence[Any], source: str = "the bundle") -> Any:
    """The certificate the bundle is for: the one that issued no other certificate of the bundle.

    When several issued nothing, the only end-entity (non-CA) one among them; else ``ChainError``.
    """
    certs = dedupe(certs)
    if not certs:
        raise ChainError(f"no leaf found: {source} holds no certificate")
    if len(certs) == 1:
        return certs[0]
    issuing = {
        facts.sha256_fingerprint(issuer)
        for issuer in certs
        for cert in certs
        if issuer is not cert and _issued(issuer, cert, {})
    }
    bottoms = [c for c in certs if facts.sha256_fingerprint(c) not in issuing]
    if len(bottoms) == 1:
        return bottoms[0]
    ends = [c for c in bottoms if not facts.is_ca(c)]
    if len(ends) == 1:
        return ends[0]
    if len(ends) > 1:
        names = ", ".join(facts.cert_label(c) for c in ends)
        raise ChainError(
            f"two leaves in {source}: {names}. A certificate file holds one certificate; "
            "put each leaf in its own file with its chain"
        )
    if not bottoms:
        raise ChainError(f"no leaf found in {source}: every certificate issued another one (a cycle)")
    names = ", ".join(facts.cert_label(c) for c in bottoms)
    raise ChainError(
        f"no leaf found in {source}: it holds only CA certificates and several of them issued nothing here ({names})"
    )


# --------------------------------------------------------------------------------------------------------------
# Path building


def _der(cert: Any) -> bytes:
    return bytes(cert.public_bytes(serialization.Encoding.DER))


def _entity(cert: Any) -> tuple[bytes, bytes]:
    """(subject, public key): the identity a cross-certificate shares with its self-signed twin."""
    return bytes(cert.subject.public_bytes()), facts.public_key_der(cert.public_key())


def _valid_at(cert: Any, now: datetime.datetime) -> bool:
    return bool(facts.not_before(cert) <= now <= facts.not_after(cert))


def _key_ids_compatible(cert: Any, issuer: Any) -> bool:
    aki = facts.extension(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ski = facts.extension(issuer, ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if aki is None or ski is None or aki.key_identifier is None:
        return True
    return bool(aki.key_identifier == ski.digest)


def _issued(issuer: Any, cert: Any, cache: dict[tuple[bytes, bytes], bool]) -> bool:
    """``issuer`` names and signs ``cert`` (subject = issuer name, key ids agree, signature verifies)."""
    if issuer.subject != cert.issuer or not _key_ids_compatible(cert, issuer):
        return False
    key = (_der(issuer), _der(cert))
    if key not in cache:
        cache[key] = facts.is_signed_by(cert, issuer)
    return cache[key]


def aia_ca_issuers(cert: Any) -> list[str]:
    """The caIssuers URLs of a certificate's Authority Information Access extension."""
    aia = facts.extension(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if aia is None:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _late(timeout: float) -> FetchError:
    return FetchError(
        f"timed out: no complete answer within {timeout:g} s (the time allowed for one AIA download; --timeout)"
    )


def _cut(connection: http.client.HTTPConnection) -> None:
    """Past the deadline: shut the socket down, which wakes a read blocked on a server that dribbles."""
    import socket

    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def http_fetch(url: str, timeout: float, max_bytes: int) -> bytes:
    """The default AIA transport, on the standard library's ``http.client`` (``http://`` only, 3 redirects at most).

    ``timeout`` bounds the whole download (connection, redirects, headers and body), not each read: a server that
    sends a byte every half second would otherwise hold it for as long as it likes. Modules pass one built on
    Ansible's ``open_url`` instead (proxies and Ansible's settings); the builder bounds every transport too.
    """
    # Here, not at the top: splitting a bundle from files needs no network modules (~10 ms of imports).
    import http.client
    import threading
    import urllib.parse

    deadline = time.monotonic() + timeout
    for _attempt in range(4):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise FetchError(f"only http:// URLs are fetched, not {url}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _late(timeout)
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=remaining)
        watchdog = threading.Timer(remaining, _cut, (connection,))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request("GET", target, headers={"User-Agent": "certhygiene", "Accept": "*/*"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urllib.parse.urljoin(url, response.getheader("Location") or "")
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status} {response.reason}")
            body = bytes(response.read(max_bytes + 1))
            if time.monotonic() >= deadline:  # cut short by the watchdog: what came is not the whole answer
                raise _late(timeout)
            return body
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise _late(timeout) from exc
            raise FetchError(str(exc) or type(exc).__name__) from exc
        finally:
            watchdog.cancel()
            connection.close()
    raise FetchError("too many redirects")


def _fetch_within(fetch: Fetcher, url: str, timeout: float, max_bytes: int) -> bytes:
    """``fetch(url, timeout, max_bytes)``, given up after ``timeout`` seconds (and a second's grace) whatever the
    transport does: a transport with only a per-read timeout is bounded too. A transport still running then is
    left to end on its own (a daemon thread: it never holds the process)."""
    import threading

    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["body"] = fetch(url, timeout, max_bytes)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="certhygiene-aia", daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    if worker.is_alive():
        raise _late(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return bytes(outcome["body"])


@dataclass
class _Scored:
    rank: tuple[int, int]
    path: list[Candidate]


class _Builder:
    def __init__(
        self,
        candidates: Sequence[Candidate],
        *,
        fetch: Fetcher | None,
        timeout: float,
        max_bytes: int,
        now: datetime.datetime,
    ) -> None:
        self.now = now
        self.fetch = fetch
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cache: dict[tuple[bytes, bytes], bool] = {}
        self.by_subject: dict[bytes, list[Candidate]] = {}
        self.trusted: set[tuple[bytes, bytes]] = set()
        self.known: set[bytes] = set()
        self.fetched: dict[str, list[Candidate]] = {}
        # All AIA downloads of one run share a budget: a chain of slow servers cannot hold the run much longer
        # than one slow download.
        self.aia_budget = timeout * AIA_RUN_BUDGET_FACTOR
        self.aia_spent = 0.0
        self.aia_log: list[str] = []
        self.notes: list[str] = []
        self.steps = 0
        self.best: _Scored | None = None
        self.good = 0  # complete paths with no expired certificate found so far
        for cand in candidates:
            self._add(cand)

    def _add(self, cand: Candidate) -> bool:
        der = _der(cand.cert)
        if cand.trusted:
            self.trusted.add(_entity(cand.cert))
        if der in self.known:  # a copy seen before; a trusted copy marks its entity trusted (above)
            return False
        self.known.add(der)
        self.by_subject.setdefault(bytes(cand.cert.subject.public_bytes()), []).append(cand)
        return True

    def _order(self, cands: Iterable[Candidate]) -> list[Candidate]:
        return sorted(
            cands,
            key=lambda c: (
                not _valid_at(c.cert, self.now),
                not (c.trusted or _entity(c.cert) in self.trusted),
                -facts.not_after(c.cert).timestamp(),
                c.fingerprint,
            ),
        )

    def _local_issuers(self, cert: Any) -> list[Candidate]:
        bucket = self.by_subject.get(bytes(cert.issuer.public_bytes()), [])
        return self._order(c for c in bucket if _issued(c.cert, cert, self.cache))

    def _aia_issuers(self, cert: Any) -> list[Candidate]:
        found: list[Candidate] = []
        for url in aia_ca_issuers(cert):
            if url not in self.fetched:
                self.fetched[url] = self._download(url)
            found.extend(self.fetched[url])
        return self._order(c for c in found if _issued(c.cert, cert, self.cache))

    def _download(self, url: str) -> list[Candidate]:
        if self.fetch is None:
            return []
        source = f"AIA {url}"
        if not url.lower().startswith("http://"):
            self.aia_log.append(f"{source} (not fetched: only http:// URLs are)")
            return []
        left = self.aia_budget - self.aia_spent
        if left <= 0:
            self.aia_log.append(f"{source} (not fetched: the AIA downloads of this run took {self.aia_budget:g} s)")
            self.notes.append(
                f"AIA download of {url} not tried: the downloads of this run used up their {self.aia_budget:g} s "
                f"({AIA_RUN_BUDGET_FACTOR} x --timeout)"
            )
            return []
        started = time.monotonic()
        try:
            body = _fetch_within(self.fetch, url, min(self.timeout, left), self.max_bytes)
            if len(body) > self.max_bytes:
                raise FetchError(f"the response is larger than {self.max_bytes} bytes")
        except Exception as exc:  # any transport failure is a note, never a crash
            detail = str(exc) or type(exc).__name__
            self.aia_log.append(f"{source} (failed: {detail})")
            self.notes.append(f"AIA download of {url} failed: {detail}")
            return []
        finally:
            self.aia_spent += time.monotonic() - started
        certs = certificates_from_bytes(body, url, [])
        if not certs:
            self.aia_log.append(f"{source} (no certificate in the response)")
            self.notes.append(f"AIA download of {url} returned no certificate (DER, PEM or PKCS#7 expected)")
            return []
        self.aia_log.append(source)
        cands = [Candidate(c, source, _entity(c) in self.trusted) for c in certs]
        for cand in cands:
            self._add(cand)
        return cands

    def _is_trusted(self, cand: Candidate) -> bool:
        return cand.trusted or _entity(cand.cert) in self.trusted

    def _consider(self, path: list[Candidate]) -> None:
        top = path[-1]
        trusted = self._is_trusted(top)
        complete = trusted or facts.is_self_signed(top.cert)
        valid = all(_valid_at(c.cert, self.now) for c in path[1:])
        if complete and valid:
            tier = 4 if trusted else 3
            self.good += 1
        elif complete:
            tier = 2
        else:
            tier = 1 if valid else 0
        rank = (tier, -len(path) if complete else len(path))
        if self.best is None or rank > self.best.rank:
            self.best = _Scored(rank, list(path))

    def search(self, path: list[Candidate]) -> None:
        self.steps += 1
        top = path[-1]
        if len(path) > 1 and (self._is_trusted(top) or facts.is_self_signed(top.cert)):
            self._consider(path)
            return
        if len(path) == 1 and facts.is_self_signed(top.cert):
            self._consider(path)
            return
        if len(path) >= MAX_DEPTH or self.steps > MAX_STEPS:
            self._consider(path)
            return
        on_path = {_entity(c.cert) for c in path}
        explored = False
        good_before = self.good
        tried: set[bytes] = set()
        for cand in self._local_issuers(top.cert):
            tried.add(_der(cand.cert))
            if _entity(cand.cert) in on_path:
                continue
            explored = True
            self.search([*path, cand])
        if self.fetch is not None and self.good == good_before:
            # No good path through the local candidates: ask the certificate where its issuer lives.
            for cand in self._aia_issuers(top.cert):
                if _der(cand.cert) in tried or _entity(cand.cert) in on_path:
                    continue
                explored = True
                self.search([*path, cand])
        if not explored:
            self._consider(path)


def build_chain(
    leaf: Any,
    candidates: Sequence[Candidate] = (),
    *,
    fetch: Fetcher | None = None,
    timeout: float = AIA_TIMEOUT,
    max_bytes: int = AIA_MAX_BYTES,
    now: datetime.datetime | None = None,
    looked_in: Sequence[str] = (),
) -> ChainResult:
    """The best verified path from ``leaf`` up through ``candidates`` (and AIA downloads when ``fetch`` is given).

    Never raises for an incomplete chain: the result says so (``complete``, ``missing_issuer``, ``looked_in``).
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    builder = _Builder(candidates, fetch=fetch, timeout=timeout, max_bytes=max_bytes, now=now)
    builder.search([Candidate(leaf, "leaf", False)])
    if builder.best is None:  # pragma: no cover - search() always considers at least the leaf
        raise ChainError("no path found")
    path = builder.best.path
    top = path[-1]
    trusted = len(path) > 1 and builder._is_trusted(top)
    complete = trusted or facts.is_self_signed(top.cert)
    if builder.steps > MAX_STEPS:
        builder.notes.append(f"path search stopped after {MAX_STEPS} steps; the best path found so far is used")
    result = ChainResult(
        path=path,
        complete=complete,
        trusted=trusted,
        missing_issuer=None if complete else str(top.cert.issuer.rfc4514_string()) or "(empty issuer)",
        looked_in=[*looked_in, *builder.aia_log],
        notes=builder.notes,
    )
    if not complete and fetch is not None and not aia_ca_issuers(top.cert):
        result.looked_in.append(f"AIA (none: {facts.cert_label(top.cert)} names no caIssuers URL)")
    return result


def split_bundle(data: bytes, source: str = "the bundle", *, now: datetime.datetime | None = None) -> ChainResult:
    """Split a bundle: its leaf, and the path through the bundle's own certificates (no downloads).

    ``unused`` lists the bundle's certificates that are not on the path (say so to the user). A certificate that
    cannot be used is a ``ChainError`` naming it.
    """
    return arrange(certificates_from_bytes(data, source), source, now=now)


def arrange(
    certs: Sequence[Any],
    source: str = "the bundle",
    *,
    candidates: Sequence[Candidate] = (),
    fetch: Fetcher | None = None,
    timeout: float = AIA_TIMEOUT,
    max_bytes: int = AIA_MAX_BYTES,
    now: datetime.datetime | None = None,
    looked_in: Sequence[str] = (),
) -> ChainResult:
    """Find the leaf of ``certs`` and build its path from the other ``certs`` first, then ``candidates`` (and AIA)."""
    certs = dedupe(certs)
    leaf = find_leaf(certs, source)
    own = [Candidate(c, source) for c in certs if c is not leaf]
    where = [source] if own else []
    result = build_chain(
        leaf,
        [*own, *candidates],
        fetch=fetch,
        timeout=timeout,
        max_bytes=max_bytes,
        now=now,
        looked_in=[*where, *looked_in],
    )
    on_path = {_der(c.cert) for c in result.path}
    result.unused = [c for c in certs if _der(c) not in on_path]
    return result


# --------------------------------------------------------------------------------------------------------------
# The one chain outcome


class IncompleteChain(ChainError):
    """No issuer of the leaf was found at all; ``result`` says where the builder looked."""

    def __init__(self, message: str, result: ChainResult) -> None:
        super().__init__(message)
        self.result = result


class NoRoot(ChainError):
    """A root was asked for (root output, include_root) but the path does not end at a self-signed certificate."""


@dataclass
class ChainOutcome:
    """What a split or a completion writes; ``certificate_chain``, ``split``, ``complete`` and the fixer all use it.

    - ``leaf``: the certificate file;
    - ``chain``: the chain file - the intermediates in issuing order; when the leaf was issued directly
      by a self-signed CA (no intermediate), that CA *is* the chain (a deployment needs the server CA, and
      ``chain.required`` asks for it); the root is appended only with ``include_root``;
    - ``root``: the self-signed certificate that ends the path, for ``root_path`` / ``--root-out``;
    - ``notes``: what the user should know (certificates left out, expired ones, a partial chain,
      private keys found in the input and not written, AIA failures).
    """

    result: ChainResult
    leaf: Any
    chain: list[Any]
    root: Any | None
    notes: list[str] = field(default_factory=list)
    private_keys: int = 0  # private keys found in the input (never written)

    @property
    def complete(self) -> bool:
        return self.result.complete

    @property
    def trusted(self) -> bool:
        return self.result.trusted

    @property
    def unused(self) -> list[Any]:
        return self.result.unused

    @property
    def path(self) -> list[Candidate]:
        return self.result.path

    @property
    def issued_by_root(self) -> bool:
        """The leaf was issued directly by the self-signed root (no intermediate): the root is the chain."""
        return self.root is not None and not self.result.intermediates

    def source_of(self, cert: Any) -> str:
        der = _der(cert)
        for cand in self.result.path:
            if _der(cand.cert) == der:
                return cand.source
        return ""


def chain_outcome(
    data: bytes,
    source: str = "the bundle",
    *,
    candidates: Sequence[Candidate] = (),
    fetch: Fetcher | None = None,
    timeout: float = AIA_TIMEOUT,
    max_bytes: int = AIA_MAX_BYTES,
    looked_in: Sequence[str] = (),
    include_root: bool = False,
    want_root: bool = False,
    now: datetime.datetime | None = None,
) -> ChainOutcome:
    """The leaf, chain and root of ``data`` (a bundle or a lone certificate), completed from ``candidates`` and AIA.

    Raises ``ChainError`` when ``data`` holds no certificate or no single leaf, ``IncompleteChain`` when no
    issuer of a CA-signed leaf was found at all, and ``ChainError`` when ``want_root`` (or ``include_root``)
    asks for a root the path does not end at. A path that stops below the root (a bundle without its root)
    is accepted, with a note: its chain is what a deployment needs.
    """
    material = read_bytes(data, source)
    result = arrange(
        certificates_from_bytes(data, source),
        source,
        candidates=candidates,
        fetch=fetch,
        timeout=timeout,
        max_bytes=max_bytes,
        now=now,
        looked_in=looked_in,
    )
    leaf = result.leaf
    if len(result.path) == 1 and not facts.is_self_signed(leaf):
        raise IncompleteChain(result.incomplete_message(), result)
    root = result.root
    if (want_root or include_root) and root is None:
        if not result.complete:
            raise NoRoot(f"the root is needed, but {result.incomplete_message()}")
        raise NoRoot(
            f"no root (self-signed) certificate above {facts.cert_label(result.path[-1].cert)} "
            "(the path ends at a trusted certificate that is not self-signed, or the leaf is self-signed)"
        )
    chain = list(result.intermediates)
    if root is not None and (not chain or include_root):
        chain.append(root)
    notes: list[str] = []
    if not result.complete:
        notes.append(
            f"the chain ends at {facts.cert_label(result.path[-1].cert)}; its issuer '{result.missing_issuer}' "
            "was not found (clients must trust it)"
        )
    for cert in result.unused:
        notes.append(f"{facts.cert_label(cert)} from {source} is not on the leaf's path; not written")
    for cert in result.expired:
        notes.append(f"{facts.cert_label(cert)} in the chain is expired or not yet valid (no valid issuer was found)")
    keys = len(material.private_keys)
    if keys:
        notes.append(
            f"{source} also holds {keys} private key(s); not written to any output. Keep the key in its own "
            "file (mode 0600)"
        )
    notes.extend(result.notes)
    return ChainOutcome(result, leaf, chain, root, notes, keys)
