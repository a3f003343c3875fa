# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment API client: read, push and delete a deployment's TLS configuration.

No HTTP library here: every request goes through a *transport*, a callable
``(method, url, headers, body, timeout) -> (status, headers, body)`` that raises
``TransportError`` when no HTTP answer came back (timeout, reset, refused).
``opener_transport`` builds one from Ansible's ``open_url`` (the modules);
``stdlib_transport`` is one on ``http.client`` (the CLI and tests).

Profiles turn the same inputs (leaf, chain, full chain, key, client CA, TLS type)
into the calls of one service:

- ``emqx-cloud``: ``{api_url}/deployments/{id}/tls`` (GET/POST/PUT/DELETE, Basic auth);
- ``emqx5-listener``: ``PUT {api_url}/listeners/{id}`` with PEM inline in ``ssl_options``;
- ``generic``: method, URL and JSON body templates.

Writes are scarce (6 an hour on the real service): ``plan`` reads the current
state and says what differs; a write is made only when something does. Retries:
429 waits for ``Retry-After``; 5xx, resets and timeouts back off exponentially up
to a limit, and before repeating a write whose outcome is unknown the client reads
the state again, so a write that did land is not made twice.

Nothing here ever puts the private key or the API secret into a message.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import http.client
import json
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .facts import colon_hex, common_name, not_after, sha256_fingerprint, subject_alt_names, subject_text
from .material import read_bytes, to_pem
from .probe import Endpoint, presented_chain

PROFILES = ("emqx-cloud", "emqx5-listener", "generic")
TLS_TYPES = ("one-way", "two-way")
AUTH_STYLES = ("basic", "bearer", "header", "none")
RETRY_STATUSES = frozenset({500, 502, 503, 504})
DEFAULT_LISTENER = "ssl:default"

TransportResult = tuple[int, Mapping[str, str], bytes]
Transport = Callable[[str, str, Mapping[str, str], "bytes | None", float], TransportResult]
Opener = Callable[[str, str, Mapping[str, str], "bytes | None", float], Any]

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s\\n]+?-----END CERTIFICATE-----")
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
_PLACEHOLDER = re.compile(
    r"\{(api_url|deployment_id|leaf|chain|fullchain|key|client_ca|tls_type|cn|verify|two_way|dns_names|ip_addresses|sans)\}"
)


class TransportError(Exception):
    """No HTTP answer: ``kind`` is timeout, reset, refused, tls or other."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class ApiError(Exception):
    """The API refused, or could not be reached after the retries.

    ``applied`` is True when a write is known to have been accepted, False when it
    is known not to have been, None when nothing was being written.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: Any = None,
        applied: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details
        self.applied = applied


# --------------------------------------------------------------------------- transports


def _classify(exc: BaseException) -> TransportError:
    reason: Any = exc
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return TransportError("timeout", "no answer within the timeout")
    if isinstance(reason, ssl.SSLError):
        return TransportError("tls", str(getattr(reason, "reason", None) or reason)[:200])
    if isinstance(reason, ConnectionRefusedError):
        return TransportError("refused", "connection refused")
    if isinstance(reason, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, http.client.HTTPException)):
        return TransportError("reset", "the connection was closed before a complete answer")
    if isinstance(reason, OSError):
        return TransportError("other", (reason.strerror or str(reason))[:200])
    return TransportError("other", str(reason)[:200] or type(reason).__name__)


def opener_transport(opener: Opener) -> Transport:
    """A transport over an ``opener(method, url, headers, body, timeout)`` such as Ansible's ``open_url``.

    The opener returns a response (``.status``/``.getcode()``, ``.headers``, ``.read()``)
    or raises ``urllib.error.HTTPError`` for HTTP error statuses.
    """

    def transport(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> TransportResult:
        try:
            response = opener(method, url, headers, body, timeout)
            status = int(getattr(response, "status", None) or response.getcode())
            data = response.read()
            return status, _header_map(response.headers), bytes(data or b"")
        except urllib.error.HTTPError as exc:
            try:
                data = exc.read() or b""
            except (OSError, http.client.HTTPException, AttributeError):
                data = b""
            return int(exc.code), _header_map(exc.headers), bytes(data)
        except (urllib.error.URLError, OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise _classify(exc) from None

    return transport


def _header_map(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    try:
        return {str(k).lower(): str(v) for k, v in headers.items()}
    except AttributeError:
        return {}


def stdlib_transport(*, validate_certs: bool = True, ca_path: str | None = None) -> Transport:
    """A transport on the standard library's ``http.client``, for the CLI and tests (no proxy, no redirects)."""
    context = ssl.create_default_context(cafile=ca_path)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

    def transport(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> TransportResult:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("other", f"not an http(s) URL: {url}")
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, target, body=body, headers=dict(headers))
            response = connection.getresponse()
            data = response.read()
            return int(response.status), _header_map(response.headers), bytes(data)
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise _classify(exc) from None
        finally:
            connection.close()

    return transport


# --------------------------------------------------------------------------- retries


@dataclass
class RetryPolicy:
    """``retries`` more attempts after the first; delays ``backoff * 2**n`` capped at ``max_backoff``."""

    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2**attempt)))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    attempts: int = 1
    converged: bool = False  # a retried write was found applied by a read; no answer of its own

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body.decode("utf-8", errors="replace"))
        except ValueError:
            return None

    def message(self) -> str:
        """The service's own words about an error (``message``/``detail``/``error``/findings), short."""
        data = self.json()
        if isinstance(data, dict):
            parts: list[str] = []
            for name in ("message", "detail", "error", "reason", "code"):
                if isinstance(data.get(name), str) and data[name]:
                    parts.append(data[name])
                    break
            findings = data.get("findings")
            if isinstance(findings, list):
                for item in findings[:20]:
                    if isinstance(item, dict):
                        parts.append(str(item.get("message") or item.get("rule_id") or item))
                    else:
                        parts.append(str(item))
            if parts:
                return "; ".join(parts)[:2000]
        text = self.body.decode("utf-8", errors="replace").strip()
        return text[:300] if text else http.client.responses.get(self.status, "")


class Client:
    """HTTP with auth, retries and a log of what was sent (methods, paths, statuses; never bodies)."""

    def __init__(
        self,
        transport: Transport,
        *,
        auth_headers: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.transport = transport
        self.auth_headers = dict(auth_headers or {})
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.secrets = tuple(s for s in secrets if s)
        self.log: list[dict[str, Any]] = []
        self.writes = 0  # write requests that reached the service with an answer

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        converged: Callable[[], bool] | None = None,
    ) -> Response:
        """Send, retrying 429 (after ``Retry-After``), 5xx, resets and timeouts.

        ``converged`` is asked before a write is repeated after an answer that leaves
        its outcome unknown (5xx, reset, timeout); when it says True the write is
        known to have landed and is not repeated.
        """
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json", **self.headers, **self.auth_headers}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        path = urllib.parse.urlsplit(url).path or "/"
        attempts = self.retry.retries + 1
        last = ""
        for attempt in range(attempts):
            entry: dict[str, Any] = {"method": method, "path": path, "attempt": attempt + 1}
            self.log.append(entry)
            try:
                status, rheaders, data = self.transport(method, url, headers, payload, self.timeout)
            except TransportError as exc:
                entry["error"] = exc.kind
                last = f"{exc.kind} ({self.redact(exc.detail)})"
                delay = self.retry.delay(attempt)
                if exc.kind == "timeout" and method != "GET":
                    # The service may still be working on the write: give it as long again before reading back.
                    delay = max(delay, min(self.timeout, self.retry.max_backoff))
                ambiguous = True
            else:
                entry["status"] = status
                if method != "GET" and status not in (429,) and status < 500:
                    self.writes += 1
                if status == 429:
                    wait = retry_after_seconds(rheaders.get("retry-after"))
                    if wait is not None and wait > self.retry.max_retry_after:
                        raise ApiError(
                            f"{method} {path}: rate limited (429); the service asks to retry after {wait:.0f} s, "
                            f"more than the {self.retry.max_retry_after:.0f} s this task waits",
                            status=429,
                        )
                    delay = self.retry.delay(attempt) if wait is None else wait
                    last = "429 rate limited" + (
                        f" (Retry-After {rheaders.get('retry-after')})" if wait is not None else ""
                    )
                    ambiguous = False
                elif status in RETRY_STATUSES:
                    delay = self.retry.delay(attempt)
                    last = f"{status} {self.redact(Response(status, rheaders, data).message())}".strip()
                    ambiguous = True
                else:
                    return Response(status, rheaders, data, attempts=attempt + 1)
            if attempt + 1 >= attempts:
                break
            self.retry.sleep(delay)
            if ambiguous and method != "GET" and converged is not None:
                try:
                    done = converged()
                except ApiError:
                    done = False
                if done:
                    self.log.append({"method": "GET", "path": path, "note": "the earlier write was applied"})
                    return Response(200, {}, b"", attempts=attempt + 1, converged=True)
        raise ApiError(
            f"{method} {path}: no success after {attempts} attempt(s); last: {last}",
            status=None,
        )


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Drop private-key PEM blocks and the given secrets from ``text``."""
    text = _PEM_KEY.sub("[private key removed]", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


def auth_headers(
    style: str, api_key: str | None, api_secret: str | None, header_name: str = "apikey"
) -> dict[str, str]:
    """Headers for ``basic`` (key:secret), ``bearer`` (secret as token), ``header`` (secret in ``header_name``)."""
    if style == "none":
        return {}
    if style == "basic":
        if api_key is None or api_secret is None:
            raise ApiError("basic auth needs api_key and api_secret")
        token = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    secret = api_secret if api_secret is not None else api_key
    if secret is None:
        raise ApiError(f"{style} auth needs api_secret (the token)")
    if style == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    if style == "header":
        return {header_name: secret}
    raise ApiError(f"unknown auth style {style!r}; use one of {', '.join(AUTH_STYLES)}")


# --------------------------------------------------------------------------- material


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
    return {
        "subject": subject_text(cert),
        "not_after": not_after(cert).isoformat(),
        "fingerprint_sha256": colon_hex(sha256_fingerprint(cert)),
    }


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


# --------------------------------------------------------------------------- endpoint


def presented_leaf(host: str, port: int, server_name: str | None = None, timeout: float = 10.0) -> bytes:
    """DER of the certificate an endpoint presents (no verification: we only look at it).

    The probe's ``presented_chain`` reads it off a TLS 1.2 handshake (which also works on two-way endpoints,
    before any client certificate is asked for); a TLS-1.3-only endpoint is asked with a plain handshake.
    """
    chain = presented_chain(Endpoint("mqtts", host, port), server_name, timeout)
    if chain:
        return bytes(chain[0])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we read the certificate, we do not trust it
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=server_name or host) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the endpoint presented no certificate")
    return bytes(der)


def observe_endpoint(
    observed: Observed, host: str, port: int, server_name: str | None = None, timeout: float = 10.0
) -> Observed:
    observed.endpoint_checked = True
    observed.endpoint_fingerprint = observed.endpoint_subject = observed.endpoint_error = None
    try:
        der = presented_leaf(host, port, server_name, timeout)
    except Exception as exc:  # OSError, ssl.SSLError, the probe's stage errors: all mean "nothing presented"
        observed.endpoint_error = f"{host}:{port}: {exc}"[:300]
        return observed
    from ._crypto import x509

    cert = x509.load_der_x509_certificate(der)
    observed.endpoint_fingerprint = sha256_fingerprint(cert)
    observed.endpoint_subject = subject_text(cert)
    return observed


# --------------------------------------------------------------------------- profiles


def _render(value: Any, values: Mapping[str, Any]) -> Any:
    """Fill ``{name}`` placeholders in every string of a JSON structure.

    A string that is exactly one placeholder takes the value as is (lists, booleans,
    null); a null value drops the key from its object.
    """
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return values.get(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: _as_text(values.get(m.group(1))), value)
    if isinstance(value, list):
        return [_render(v, values) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            rendered = _render(v, values)
            if rendered is None and isinstance(v, str) and _PLACEHOLDER.fullmatch(v):
                continue
            out[k] = rendered
        return out
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _url(template: str, api_url: str, deployment_id: str) -> str:
    return template.replace("{api_url}", api_url.rstrip("/")).replace(
        "{deployment_id}", urllib.parse.quote(deployment_id, safe=":@")
    )


@dataclass
class GenericSpec:
    """A service described by templates (see ``generic`` in the module's documentation)."""

    url_template: str
    body_template: Any
    method: str = "PUT"
    get_url_template: str | None = None
    delete_url_template: str | None = None
    delete_method: str = "DELETE"


_EMQX5 = GenericSpec(
    url_template="{api_url}/listeners/{deployment_id}",
    get_url_template="{api_url}/listeners/{deployment_id}",
    method="PUT",
    body_template={
        "ssl_options": {
            "certfile": "{fullchain}",
            "keyfile": "{key}",
            "cacertfile": "{client_ca}",
            "verify": "{verify}",
            "fail_if_no_peer_cert": "{two_way}",
        }
    },
)


class Deployment:
    """One deployment's TLS configuration, through one profile."""

    def __init__(
        self,
        client: Client,
        *,
        api_url: str,
        deployment_id: str,
        profile: str = "emqx-cloud",
        generic: GenericSpec | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ApiError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
        if profile == "generic" and generic is None:
            raise ApiError("the generic profile needs url_template and body_template")
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.profile = profile
        self.deployment_id = deployment_id or (DEFAULT_LISTENER if profile == "emqx5-listener" else "")
        if profile == "emqx-cloud" and not self.deployment_id:
            raise ApiError("deployment_id is required for the emqx-cloud profile")
        self.spec = _EMQX5 if profile == "emqx5-listener" else generic

    def _spec(self) -> GenericSpec:
        if self.spec is None:
            raise ApiError(f"the {self.profile} profile has no request templates")
        return self.spec

    @property
    def has_status(self) -> bool:
        return self.profile == "emqx-cloud"

    def url(self, template: str | None = None) -> str:
        if self.profile == "emqx-cloud":
            return f"{self.api_url}/deployments/{urllib.parse.quote(self.deployment_id, safe='')}/tls"
        return _url(template or "", self.api_url, self.deployment_id)

    # ---- read

    def read(self) -> Observed:
        if self.profile == "emqx-cloud":
            return self._read_cloud()
        spec = self._spec()
        if not spec.get_url_template:
            return Observed(present=True)  # cannot tell: differences() asks for a write
        response = self.client.request("GET", self.url(spec.get_url_template))
        if response.status == 404:
            return Observed(present=False)
        self._raise_for(response, "GET")
        data = response.json()
        observed = Observed(present=True, raw=_public(data))
        if self.profile == "emqx5-listener" and isinstance(data, dict):
            options: dict[str, Any] = data["ssl_options"] if isinstance(data.get("ssl_options"), dict) else {}
            if data.get("enable") is False:
                observed.present = False
            verify = options.get("verify")
            if verify in ("verify_peer", "verify_none"):
                observed.tls_type = "two-way" if verify == "verify_peer" else "one-way"
            certfile = options.get("certfile")
            if isinstance(certfile, str):
                observed.fingerprint = pem_fingerprint(certfile)
            return observed
        observed.fingerprint = pem_fingerprint(json.dumps(data)) if data is not None else None
        return observed

    def _read_cloud(self) -> Observed:
        response = self.client.request("GET", self.url())
        if response.status == 404:
            return Observed(present=False)
        self._raise_for(response, "GET")
        data = response.json()
        if not isinstance(data, dict):
            raise ApiError(f"GET {self.url()}: the answer is not a JSON object", status=response.status)
        if isinstance(data.get("data"), dict):  # some gateways wrap the object
            data = data["data"]
        tls_type = data.get("tlsType")
        return Observed(
            present=bool(tls_type) or data.get("status") is not None,
            tls_type=str(tls_type) if tls_type else None,
            cn=str(data["cn"]) if data.get("cn") else None,
            expire=data.get("expire"),
            status=str(data["status"]) if data.get("status") is not None else None,
            raw=_public(data),
        )

    # ---- write

    def body(self, desired: Desired) -> Any:
        if self.profile == "emqx-cloud":
            body: dict[str, Any] = {"tlsType": desired.tls_type, "cert": desired.fullchain_pem, "key": desired.key_pem}
            if desired.tls_type == "two-way":
                body["cacert"] = desired.client_ca_pem
            return body
        spec = self._spec()
        values = {
            "api_url": self.api_url,
            "deployment_id": self.deployment_id,
            "leaf": desired.leaf_pem,
            "chain": desired.chain_pem,
            "fullchain": desired.fullchain_pem,
            "key": desired.key_pem,
            "client_ca": desired.client_ca_pem or None,
            "tls_type": desired.tls_type,
            "cn": desired.cn,
            "verify": "verify_peer" if desired.tls_type == "two-way" else "verify_none",
            "two_way": desired.tls_type == "two-way",
            "dns_names": list(desired.dns_names),
            "ip_addresses": list(desired.ip_addresses),
            "sans": list(desired.dns_names) + list(desired.ip_addresses),
        }
        return _render(spec.body_template, values)

    def write(self, desired: Desired, observed: Observed) -> Response:
        """POST (create) or PUT (update); raises ApiError with ``applied`` set."""
        if self.profile == "emqx-cloud":
            method = "PUT" if observed.present else "POST"
            url = self.url()
        else:
            spec = self._spec()
            method = spec.method.upper()
            url = self.url(spec.url_template)

        def converged() -> bool:
            if not (self.has_status or (self.spec is not None and self.spec.get_url_template)):
                return False
            before_same = not differences(desired, observed, use_endpoint=False)
            if before_same:
                return False  # the read cannot tell our write from the old state
            return not differences(desired, self.read(), use_endpoint=False)

        try:
            response = self.client.request(method, url, self.body(desired), converged=converged)
        except ApiError as exc:
            exc.applied = self._landed(desired, observed)
            exc.message = self.client.redact(exc.message)
            raise
        if (
            self.profile == "emqx-cloud"
            and not response.converged
            and (method, response.status) in (("POST", 409), ("PUT", 404))
        ):
            # The state changed under us since the read: create <-> update.
            method = "PUT" if method == "POST" else "POST"
            try:
                response = self.client.request(method, url, self.body(desired), converged=converged)
            except ApiError as exc:
                exc.applied = self._landed(desired, observed)
                exc.message = self.client.redact(exc.message)
                raise
        if response.converged or response.status in (200, 201, 202, 204):
            return response
        raise self._error(response, method, applied=False)

    def _landed(self, desired: Desired, observed: Observed) -> bool | None:
        """After a failed write: did it land anyway? None when we cannot tell."""
        if not (self.has_status or (self.spec is not None and self.spec.get_url_template)):
            return None
        if not differences(desired, observed, use_endpoint=False):
            return None
        try:
            return not differences(desired, self.read(), use_endpoint=False)
        except ApiError:
            return None

    # ---- delete

    def delete(self) -> bool:
        """True when a configuration was deleted, False when there was none (404)."""
        if self.profile == "emqx-cloud":
            url = self.url()
            method = "DELETE"
        else:
            spec = self._spec()
            url = self.url(spec.delete_url_template or spec.get_url_template or spec.url_template)
            method = spec.delete_method.upper()

        def converged() -> bool:
            if not (self.has_status or (self.spec is not None and self.spec.get_url_template)):
                return False
            return not self.read().present

        try:
            response = self.client.request(method, url, converged=converged)
        except ApiError as exc:
            exc.message = self.client.redact(exc.message)
            raise
        if response.converged or response.status in (200, 202, 204):
            return True
        if response.status == 404:
            return False
        raise self._error(response, method, applied=False)

    # ---- wait

    def wait_running(
        self, timeout: float, interval: float = 1.0, sleep: Callable[[float], None] = time.sleep
    ) -> Observed:
        """Poll until ``status`` is ``running``; ApiError on ``failed`` or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            observed = self.read()
            if not self.has_status or observed.status in (None, "running"):
                return observed
            if observed.status == "failed":
                raise ApiError(
                    "the deployment accepted the configuration but reports status 'failed' "
                    "(it does not serve it); check the certificate and key and push again",
                    details=observed.facts(),
                    applied=True,
                )
            if time.monotonic() >= deadline:
                raise ApiError(
                    f"the configuration was accepted but the deployment is still '{observed.status}' "
                    f"after {timeout:.0f} s (wait_timeout)",
                    details=observed.facts(),
                    applied=True,
                )
            sleep(min(interval, max(0.0, deadline - time.monotonic())))

    # ---- errors

    def _raise_for(self, response: Response, method: str) -> None:
        if 200 <= response.status < 300:
            return
        raise self._error(response, method, applied=None if method == "GET" else False)

    def _error(self, response: Response, method: str, *, applied: bool | None) -> ApiError:
        status = response.status
        said = self.client.redact(response.message())
        what = f"{method} {urllib.parse.urlsplit(self.url(self._template(method))).path}"
        if status in (401, 403):
            text = f"{what}: {status} authentication failed ({said}); check api_key and api_secret"
        elif status == 404:
            text = f"{what}: 404 not found ({said}); check api_url and deployment_id"
        elif status == 422:
            text = f"{what}: 422 the service rejected the certificate: {said}"
        else:
            text = f"{what}: {status} {said}"
        data = response.json()
        return ApiError(text, status=status, details=_public(data), applied=applied)

    def _template(self, method: str) -> str | None:
        if self.spec is None:
            return None
        if method == "GET":
            return self.spec.get_url_template or self.spec.url_template
        if method == self.spec.delete_method.upper() and method != self.spec.method.upper():
            return self.spec.delete_url_template or self.spec.url_template
        return self.spec.url_template


def _public(data: Any) -> Any:
    """An API answer for results: private-key material removed."""
    if isinstance(data, dict):
        return {
            k: ("[removed]" if "key" in str(k).lower() and "apikey" not in str(k).lower() else _public(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_public(v) for v in data]
    if isinstance(data, str):
        return redact(data)
    return data


__all__ = [
    "AUTH_STYLES",
    "PROFILES",
    "TLS_TYPES",
    "ApiError",
    "Client",
    "Deployment",
    "Desired",
    "GenericSpec",
    "Observed",
    "Response",
    "RetryPolicy",
    "Transport",
    "TransportError",
    "auth_headers",
    "build_desired",
    "differences",
    "observe_endpoint",
    "opener_transport",
    "parse_expire",
    "presented_leaf",
    "redact",
    "retry_after_seconds",
    "same_expiry",
    "stdlib_transport",
]
