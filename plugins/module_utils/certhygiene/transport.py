# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP to a deployment API: transports, retries, auth, redaction.

No HTTP library here: every request goes through a *transport*, a callable
``(method, url, headers, body, timeout) -> (status, headers, body)`` that raises
``TransportError`` when no HTTP answer came back (timeout, reset, refused).
``opener_transport`` builds one from Ansible's ``open_url`` (the modules);
``stdlib_transport`` is one on ``http.client`` (the CLI and tests); a test may give
a callable that replays recorded answers.

Retries: 429 waits for ``Retry-After``; 5xx, resets and timeouts back off exponentially
up to a limit, and before repeating a write whose outcome is unknown the client asks
its caller whether the write landed, so a write that did land is not made twice.

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
from dataclasses import dataclass
from typing import Any

AUTH_STYLES = ("basic", "bearer", "header", "none")
RETRY_STATUSES = frozenset({500, 502, 503, 504})

TransportResult = tuple[int, Mapping[str, str], bytes]
Transport = Callable[[str, str, Mapping[str, str], "bytes | None", float], TransportResult]
Opener = Callable[[str, str, Mapping[str, str], "bytes | None", float], Any]

_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)


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
