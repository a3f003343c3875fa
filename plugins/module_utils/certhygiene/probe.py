# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection probe: the seed's MQTTX test ("strict mode") as code.

Steps, each with its own failure ``stage``:

1. ``tcp``: connect to host:port (refused, timed out, name not resolved);
2. capture the chain the server presents (a TLS 1.2 handshake read off the wire, no verification; when the
   server speaks only TLS 1.3 the chain is encrypted and only the leaf is reported);
3. ``handshake`` / ``verification`` / ``hostname``: a strict TLS handshake (chain verified against ``ca_path``
   or the system trust, hostname checked against ``server_name`` or the host);
4. ``mqtt``: an MQTT CONNECT with paho-mqtt over mqtts or wss (path ``/mqtt``), with username/password and
   the client certificate, and its CONNACK.

``stage`` is ``connected`` when every step passed.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import facts
from ._crypto import HAS_CRYPTOGRAPHY, x509

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    HAS_PAHO = True
    PAHO_IMPORT_ERROR: str | None = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import sandbox
    HAS_PAHO = False
    PAHO_IMPORT_ERROR = traceback.format_exc()
    mqtt = CallbackAPIVersion = None  # type: ignore[assignment,misc]

TCP = "tcp"
HANDSHAKE = "handshake"
VERIFICATION = "verification"
HOSTNAME = "hostname"
MQTT = "mqtt"
CONNECTED = "connected"
STAGES = (TCP, HANDSHAKE, VERIFICATION, HOSTNAME, MQTT, CONNECTED)

TRANSPORTS = {"mqtts": 8883, "wss": 8084}
SCHEMES = {"mqtts": "mqtts", "ssl": "mqtts", "tls": "mqtts", "wss": "wss"}
DEFAULT_WSS_PATH = "/mqtt"
MQTT_VERSIONS = ("3.1.1", "5")

# OpenSSL verify codes for a name mismatch (X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH)
_NAME_MISMATCH = (62, 64)


class ProbeError(ValueError):
    """Bad input (URL, CA file, client certificate): nothing was probed."""


@dataclass(frozen=True)
class Endpoint:
    transport: str  # mqtts | wss
    host: str
    port: int
    path: str = DEFAULT_WSS_PATH  # wss only

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = self.path if self.transport == "wss" else ""
        return f"{self.transport}://{host}:{self.port}{suffix}"


@dataclass
class ProbeResult:
    endpoint: Endpoint
    server_name: str
    connected: bool = False
    stage: str = TCP
    msg: str = ""
    tls_version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    verified: bool = False
    chain: list[dict[str, Any]] = field(default_factory=list)
    chain_complete: bool = False
    connack: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "stage": self.stage,
            "msg": self.msg,
            "url": self.endpoint.url,
            "transport": self.endpoint.transport,
            "host": self.endpoint.host,
            "port": self.endpoint.port,
            "path": self.endpoint.path if self.endpoint.transport == "wss" else None,
            "server_name": self.server_name,
            "tls": {
                "version": self.tls_version,
                "cipher": self.cipher,
                "bits": self.cipher_bits,
                "verified": self.verified,
            },
            "chain": self.chain,
            "chain_complete": self.chain_complete,
            "connack": self.connack,
        }

    def fail(self, stage: str, msg: str) -> ProbeResult:
        self.connected = False
        self.stage = stage
        self.msg = msg
        return self


def parse_endpoint(
    url: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    transport: str | None = None,
    path: str | None = None,
) -> Endpoint:
    """``mqtts://host[:8883]`` or ``wss://host[:8084][/mqtt]``, or the parts; explicit parts override the URL."""
    url_transport = url_host = url_path = None
    url_port: int | None = None
    if url:
        parts = urlsplit(url if "://" in url else "mqtts://" + url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ProbeError(f"{url}: the probe tests TLS; use mqtts://host:8883 or wss://host:8084/mqtt")
        url_transport = SCHEMES[scheme]
        url_host = parts.hostname
        try:
            url_port = parts.port
        except ValueError:
            raise ProbeError(f"{url}: the port is not a number between 0 and 65535") from None
        url_path = parts.path or None
    transport = transport or url_transport or "mqtts"
    if transport not in TRANSPORTS:
        raise ProbeError(f"transport {transport!r}: use mqtts or wss")
    host = host or url_host
    if not host:
        raise ProbeError("no host to probe: give a URL (mqtts://host:8883) or a host")
    port = port or url_port or TRANSPORTS[transport]
    if not 0 < port < 65536:
        raise ProbeError(f"port {port}: not a TCP port")
    path = path or url_path or DEFAULT_WSS_PATH
    if not path.startswith("/"):
        path = "/" + path
    return Endpoint(transport, host, int(port), path)


def tls_context(
    *,
    ca_path: str | None = None,
    ca_data: str | None = None,
    ca_name: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    client_key_password: str | None = None,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A strict client context: chain verified against the CA given (or the system trust), hostname checked.

    ``ca_name`` names ``ca_data`` in messages (the file it was read from, when the caller read it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    if ca_path or ca_data:
        try:
            context.load_verify_locations(cafile=ca_path, cadata=ca_data)
        except (OSError, ssl.SSLError, ValueError) as exc:
            where = ca_path or ca_name or "ca_data"
            raise ProbeError(f"{where}: cannot load the CA certificate(s): {_reason(exc)}") from None
    else:
        context.load_default_certs()
    if client_key and not client_cert:
        raise ProbeError("a client key needs its client certificate (client_cert)")
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key, client_key_password)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ProbeError(
                f"{client_cert}: cannot load the client certificate and key: {_reason(exc)} "
                "(the key must be the certificate's, PEM, and its passphrase given if it has one)"
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def _tcp_connect(endpoint: Endpoint, timeout: float) -> socket.socket:
    """Connect, or raise _StageError(TCP)."""
    where = f"{endpoint.host}:{endpoint.port}"
    try:
        return socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except socket.gaierror as exc:
        raise _StageError(TCP, f"tcp: cannot resolve {endpoint.host!r}: {exc.strerror or exc}") from None
    except ConnectionRefusedError:
        raise _StageError(TCP, f"tcp: connection to {where} refused (nothing listens there)") from None
    except TimeoutError:
        raise _StageError(TCP, f"tcp: connection to {where} timed out after {timeout:g}s") from None
    except OSError as exc:
        raise _StageError(TCP, f"tcp: cannot connect to {where}: {_reason(exc)}") from None


class _StageError(Exception):
    def __init__(self, stage: str, msg: str) -> None:
        super().__init__(msg)
        self.stage = stage
        self.msg = msg


class _HandshakeReader:
    """Reads TLS records off the wire and collects the server's Certificate message (TLS <= 1.2 only)."""

    def __init__(self) -> None:
        self._records = b""
        self._handshake = b""
        self.certificates: list[bytes] | None = None
        self.done = False

    def feed(self, data: bytes) -> None:
        self._records += data
        while len(self._records) >= 5 and not self.done:
            content_type = self._records[0]
            length = int.from_bytes(self._records[3:5], "big")
            if len(self._records) < 5 + length:
                return
            payload, self._records = self._records[5 : 5 + length], self._records[5 + length :]
            if content_type == 22:  # handshake
                self._handshake += payload
                self._messages()
            elif content_type in (20, 21, 23):  # change_cipher_spec, alert, application data: past the clear part
                self.done = True

    def _messages(self) -> None:
        while len(self._handshake) >= 4 and not self.done:
            msg_type = self._handshake[0]
            length = int.from_bytes(self._handshake[1:4], "big")
            if len(self._handshake) < 4 + length:
                return
            body, self._handshake = self._handshake[4 : 4 + length], self._handshake[4 + length :]
            if msg_type == 11:  # Certificate
                certs: list[bytes] = []
                total = int.from_bytes(body[0:3], "big")
                offset = 3
                while offset < 3 + total and offset + 3 <= len(body):
                    size = int.from_bytes(body[offset : offset + 3], "big")
                    certs.append(body[offset + 3 : offset + 3 + size])
                    offset += 3 + size
                self.certificates = certs
                self.done = True
            elif msg_type in (13, 14):  # CertificateRequest, ServerHelloDone: no certificate coming
                self.done = True


def presented_chain(endpoint: Endpoint, server_name: str | None = None, timeout: float = 10.0) -> list[bytes] | None:
    """The certificates (DER, in the order sent) the server presents, read from a TLS 1.2 handshake.

    No verification. None when the server does not speak TLS 1.2 (TLS 1.3 encrypts the chain) or closes early.
    Raises _StageError(TCP) when the port does not accept connections.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=_sni(server_name or endpoint.host))
    reader = _HandshakeReader()
    deadline = time.monotonic() + timeout
    with _tcp_connect(endpoint, timeout) as sock:
        while not reader.done and time.monotonic() < deadline:
            try:
                tls.do_handshake()
                finished = True
            except ssl.SSLWantReadError:
                finished = False
            except (ssl.SSLError, ValueError):
                break
            data = outgoing.read()
            try:
                if data:
                    sock.sendall(data)
                if finished:
                    break
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            reader.feed(chunk)
            incoming.write(chunk)
    return reader.certificates


def presented_leaf(host: str, port: int, server_name: str | None = None, timeout: float = 10.0) -> bytes:
    """DER of the certificate an endpoint presents (no verification: it is looked at, not trusted).

    Read off a TLS 1.2 handshake (which also works on two-way endpoints, before any client certificate is
    asked for); a TLS-1.3-only endpoint is asked with a plain handshake. Raises OSError/ssl.SSLError or the
    probe's stage error when nothing is presented.
    """
    chain = presented_chain(Endpoint("mqtts", host, port), server_name, timeout)
    if chain:
        return bytes(chain[0])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=server_name or host) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the endpoint presented no certificate")
    return bytes(der)


def _sni(name: str) -> str | None:
    return name or None


def describe_der(der: bytes) -> dict[str, Any]:
    """Public facts about one presented certificate (subject, issuer, fingerprints, days left)."""
    if HAS_CRYPTOGRAPHY:
        try:
            return facts.describe_certificate(x509.load_der_x509_certificate(der))
        except ValueError:
            pass
    return {"fingerprint_sha256": facts.colon_hex(hashlib.sha256(der).hexdigest()), "parse_error": True}


def _handshake_message(exc: ssl.SSLError, endpoint: Endpoint, client_cert: bool) -> str:
    reason = (exc.reason or "").upper()
    where = f"{endpoint.host}:{endpoint.port}"
    if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason or "PACKET_LENGTH_TOO_LONG" in reason:
        return f"handshake: {where} does not speak TLS (a plain MQTT or HTTP port?)"
    if "CERTIFICATE_REQUIRED" in reason or ("HANDSHAKE_FAILURE" in reason and not client_cert):
        return (
            f"handshake: {where} refused the TLS handshake: it requires a client certificate (two-way TLS) "
            "and none was given; pass client_cert and client_key"
        )
    if any(word in reason for word in ("UNKNOWN_CA", "BAD_CERTIFICATE", "DECRYPT_ERROR", "CERTIFICATE_UNKNOWN")):
        return (
            f"handshake: {where} rejected the client certificate ({_reason(exc)}): it is not signed by the "
            "deployment's client CA"
        )
    if "UNEXPECTED_EOF" in reason or isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return f"handshake: {where} closed the connection during the TLS handshake"
    return f"handshake: TLS handshake with {where} failed: {_reason(exc)}"


def _strict_handshake(
    endpoint: Endpoint, context: ssl.SSLContext, server_name: str, timeout: float, trust: str, client_cert: bool
) -> ssl.SSLSocket:
    sock = _tcp_connect(endpoint, timeout)
    try:
        tls = context.wrap_socket(sock, server_hostname=server_name)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        if exc.verify_code in _NAME_MISMATCH:
            raise _StageError(
                HOSTNAME,
                f"hostname: the certificate presented by {endpoint.host}:{endpoint.port} does not match "
                f"{server_name!r}: {exc.verify_message}; the certificate needs {server_name!r} in its subjectAltName "
                "(or probe with the name it was issued for: server_name)",
            ) from None
        raise _StageError(
            VERIFICATION,
            f"verification: the certificate chain presented by {endpoint.host}:{endpoint.port} does not verify "
            f"against {trust}: {exc.verify_message}",
        ) from None
    except ssl.SSLError as exc:
        sock.close()
        raise _StageError(HANDSHAKE, _handshake_message(exc, endpoint, client_cert)) from None
    except TimeoutError:
        sock.close()
        raise _StageError(
            HANDSHAKE, f"handshake: no TLS answer from {endpoint.host}:{endpoint.port} within {timeout:g}s"
        ) from None
    except OSError as exc:
        sock.close()
        raise _StageError(
            HANDSHAKE,
            f"handshake: {endpoint.host}:{endpoint.port} dropped the connection during the TLS handshake: {_reason(exc)} "
            "(a plain MQTT port, or a server that refuses this client?)",
        ) from None
    if tls.version() == "TLSv1.3":
        try:
            _await_verdict(tls, endpoint, min(timeout, 2.0), client_cert)
        except _StageError:
            tls.close()
            raise
    return tls


def _await_verdict(tls: ssl.SSLSocket, endpoint: Endpoint, wait: float, client_cert: bool) -> None:
    """TLS 1.3: the server judges the client certificate after the client's handshake is done.

    Wait (without sending anything) for its verdict: session tickets mean accepted, an alert means refused.
    A server that sends neither within ``wait`` is given the benefit of the doubt (the MQTT step follows).
    """
    where = f"{endpoint.host}:{endpoint.port}"
    deadline = time.monotonic() + wait
    tls.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            if tls.recv(1) == b"":
                raise _StageError(HANDSHAKE, f"handshake: {where} closed the connection right after the TLS handshake")
            return  # the server spoke first: not a refusal
        except (TimeoutError, ssl.SSLWantReadError):
            session = tls.session
            if session is not None and session.has_ticket:
                return
        except ssl.SSLError as exc:
            raise _StageError(HANDSHAKE, _handshake_message(exc, endpoint, client_cert)) from None
        except OSError as exc:
            raise _StageError(
                HANDSHAKE, f"handshake: {where} dropped the connection right after the TLS handshake: {_reason(exc)}"
            ) from None


def probe(
    url: str | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    transport: str | None = None,
    path: str | None = None,
    ca_path: str | None = None,
    ca_data: str | None = None,
    ca_name: str | None = None,
    server_name: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    client_key_password: str | None = None,
    username: str | None = None,
    password: str | None = None,
    client_id: str | None = None,
    mqtt_version: str = "3.1.1",
    timeout: float = 10.0,
) -> ProbeResult:
    """Probe one endpoint; never raises for a failing endpoint (see ``ProbeResult.stage``), only ProbeError for bad input."""
    endpoint = parse_endpoint(url, host=host, port=port, transport=transport, path=path)
    if mqtt_version not in MQTT_VERSIONS:
        raise ProbeError(f"mqtt_version {mqtt_version!r}: use one of {', '.join(MQTT_VERSIONS)}")
    name = server_name or endpoint.host
    ca_file = ca_path or ca_name
    trust = f"the CA in {ca_file}" if ca_file else ("the CA given" if ca_data else "the system trust store")
    context = tls_context(
        ca_path=ca_path,
        ca_data=ca_data,
        ca_name=ca_name,
        client_cert=client_cert,
        client_key=client_key,
        client_key_password=client_key_password,
    )
    result = ProbeResult(endpoint=endpoint, server_name=name)

    # 1 + 2: tcp, and the chain as presented (best effort)
    try:
        chain = presented_chain(endpoint, name, timeout)
    except _StageError as err:
        return result.fail(err.stage, err.msg)
    if chain:
        result.chain = [describe_der(der) for der in chain]
        result.chain_complete = True

    # 3: strict handshake
    try:
        tls = _strict_handshake(endpoint, context, name, timeout, trust, bool(client_cert))
    except _StageError as err:
        if not result.chain:
            _leaf_only(result, endpoint, name, timeout)
        return result.fail(err.stage, err.msg)
    with tls:
        result.verified = True
        result.tls_version = tls.version()
        cipher = tls.cipher()
        if cipher:
            result.cipher, result.cipher_bits = cipher[0], cipher[2]
        if not result.chain:
            leaf = tls.getpeercert(binary_form=True)
            if leaf:
                result.chain = [describe_der(leaf)]

    # 4: MQTT CONNECT
    if not HAS_PAHO:
        return result.fail(MQTT, "mqtt: the probe needs the Python library paho-mqtt (pip install 'paho-mqtt>=2')")
    mqtt_context = context
    if server_name and server_name != endpoint.host:
        # paho checks the name it connects to; the name given was checked in step 3, keep the chain check
        mqtt_context = tls_context(
            ca_path=ca_path,
            ca_data=ca_data,
            ca_name=ca_name,
            client_cert=client_cert,
            client_key=client_key,
            client_key_password=client_key_password,
            check_hostname=False,
        )
    return _mqtt_connect(result, mqtt_context, username, password, client_id, mqtt_version, timeout, bool(client_cert))


def _leaf_only(result: ProbeResult, endpoint: Endpoint, name: str, timeout: float) -> None:
    """After a failed strict handshake on a TLS-1.3-only server: fetch the leaf without verification (for the report)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with _tcp_connect(endpoint, timeout) as sock, context.wrap_socket(sock, server_hostname=name) as tls:
            leaf = tls.getpeercert(binary_form=True)
            if leaf:
                result.chain = [describe_der(leaf)]
    except (OSError, _StageError):
        pass


def _mqtt_connect(
    result: ProbeResult,
    context: ssl.SSLContext,
    username: str | None,
    password: str | None,
    client_id: str | None,
    mqtt_version: str,
    timeout: float,
    client_cert: bool,
) -> ProbeResult:
    endpoint = result.endpoint
    where = endpoint.url
    protocol = mqtt.MQTTv5 if mqtt_version == "5" else mqtt.MQTTv311
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"certhygiene-probe-{uuid.uuid4().hex[:12]}",
        transport="websockets" if endpoint.transport == "wss" else "tcp",
        protocol=protocol,
    )
    client.connect_timeout = timeout
    if endpoint.transport == "wss":
        client.ws_set_options(path=endpoint.path)
    client.tls_set_context(context)
    if username is not None:
        client.username_pw_set(username, password)
    events: dict[str, Any] = {}
    errors: list[str] = []

    def on_connect(_c: Any, _u: Any, flags: Any, reason_code: Any, _p: Any) -> None:
        events["connack"] = {
            "reason_code": int(getattr(reason_code, "value", reason_code)),
            "reason": str(reason_code),
            "session_present": bool(getattr(flags, "session_present", False)),
        }

    def on_disconnect(_c: Any, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
        events["disconnected"] = str(reason_code)

    def on_log(_c: Any, _u: Any, level: int, message: str) -> None:
        if level == mqtt.MQTT_LOG_ERR:
            errors.append(message)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_log = on_log
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=max(5, int(timeout) * 3))
        deadline = time.monotonic() + timeout
        while "connack" not in events and "disconnected" not in events and time.monotonic() < deadline:
            rc = client.loop(timeout=0.1)
            if rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
                events.setdefault("disconnected", mqtt.error_string(rc))
                break
    except ssl.SSLError as exc:
        return result.fail(HANDSHAKE, _handshake_message(exc, endpoint, client_cert))
    except (OSError, ValueError) as exc:
        return result.fail(MQTT, f"mqtt: the connection to {where} failed before the CONNACK: {_reason(exc)}")
    except Exception as exc:  # paho's websocket handshake raises its own errors
        return result.fail(MQTT, f"mqtt: the connection to {where} failed before the CONNACK: {exc}")
    finally:
        _close(client)

    connack = events.get("connack")
    if connack is not None:
        result.connack = connack
        if connack["reason_code"] == 0:
            result.connected = True
            result.stage = CONNECTED
            tls = f"{result.tls_version}, {result.cipher}" if result.tls_version else "TLS"
            result.msg = f"connected to {where} ({tls}); CONNACK: {connack['reason']}"
            return result
        hint = ""
        if connack["reason_code"] in (4, 5, 134, 135):
            hint = "; check the MQTT username and password (the deployment's authentication)"
        return result.fail(
            MQTT, f"mqtt: {where} refused the CONNECT: {connack['reason']} (CONNACK {connack['reason_code']}){hint}"
        )
    detail = " | ".join(errors)
    if "CERTIFICATE_REQUIRED" in detail.upper() or "certificate required" in detail:
        return result.fail(
            HANDSHAKE,
            f"handshake: {endpoint.host}:{endpoint.port} refused the TLS connection: it requires a client certificate "
            "(two-way TLS) and none was given; pass client_cert and client_key",
        )
    if any(word in detail.upper() for word in ("UNKNOWN CA", "BAD CERTIFICATE", "UNKNOWN_CA", "BAD_CERTIFICATE")):
        return result.fail(
            HANDSHAKE,
            f"handshake: {endpoint.host}:{endpoint.port} rejected the client certificate: it is not signed by the "
            "deployment's client CA",
        )
    if "disconnected" in events:
        why = detail or events["disconnected"]
        return result.fail(MQTT, f"mqtt: {where} closed the connection before the CONNACK: {why}")
    return result.fail(MQTT, f"mqtt: no CONNACK from {where} within {timeout:g}s")


def _close(client: Any) -> None:
    try:
        client.disconnect()
        client.loop(timeout=0.05)
    except Exception:  # noqa: S110 - best effort cleanup of a probe connection
        pass
    try:
        sock = client.socket()
        if sock is not None:
            sock.close()
    except Exception:  # noqa: S110
        pass
