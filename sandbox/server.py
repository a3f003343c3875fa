# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox deployment: the cloud's TLS API on loopback, driving a real mosquitto broker.

The contract (paths, bodies, status codes, test endpoints) is in sandbox/README.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import json
import logging
import math
import queue
import random
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .mosquitto import WSS_PATH, Mosquitto, MosquittoError, TlsFiles
from .store import Store

LOG = logging.getLogger("certhygiene.sandbox")

API_PREFIX = "/public_api/v1"
FAULT_KINDS = ("500", "429", "slow", "drop")
WRITE_METHODS = ("POST", "PUT", "DELETE")
TLS_TYPES = ("one-way", "two-way")
MAX_BODY = 1024 * 1024
MAX_JSON_DEPTH = 32  # the API's bodies are flat objects
MAX_DIGITS = 100
BACKLOG = 128
WINDOW = 3600.0
_TLS_PATH = re.compile(r"^/deployments/([^/]+)/tls/?$")
_END_CERT = "-----END CERTIFICATE-----"


_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment the sandbox serves: its id, its TLS listeners and (optionally) its own write limit."""

    deployment_id: str
    mqtts_port: int
    wss_port: int
    write_limit: int | None = None  # None: the sandbox's --write-limit


def check_deployment_id(value: str) -> str:
    if not _DEPLOYMENT_ID.match(value):
        raise ValueError(
            f"deployment id {value!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


@dataclass
class Settings:
    data_dir: str
    host: str = "127.0.0.1"
    api_port: int = 18083
    mqtt_port: int | None = 1883
    mqtts_port: int = 8883
    wss_port: int = 8084
    deployment_id: str = "sandbox"
    api_key: str = ""
    api_secret: str = ""
    mqtt_user: str = "certhygiene"
    mqtt_password: str = ""
    profile: str | None = "emqx-cloud"
    policy_path: str | None = None
    write_limit: int | None = None
    apply_delay: float = 0.3
    fault_rate: float = 0.0
    faults: Sequence[str] = FAULT_KINDS
    fault_seed: int | None = None
    fault_slow: float = 3.0
    mosquitto: str = "/usr/sbin/mosquitto"
    client_timeout: float = 30.0
    max_connections: int = 256
    # Several deployments under one API (--deployment); empty: the one of deployment_id/mqtts_port/wss_port.
    deployments: Sequence[DeploymentSpec] = ()

    def deployment_specs(self) -> list[DeploymentSpec]:
        if self.deployments:
            return list(self.deployments)
        return [DeploymentSpec(self.deployment_id, self.mqtts_port, self.wss_port)]

    def __repr__(self) -> str:  # never show secrets
        return f"Settings(host={self.host!r}, api_port={self.api_port}, deployment_id={self.deployment_id!r})"


class Faults:
    """Random (rate + seed) and scripted (``next``) fault injection."""

    def __init__(self, rate: float, kinds: Sequence[str], seed: int | None, slow: float) -> None:
        self._lock = threading.Lock()
        self.rate = rate
        self.kinds = list(kinds)
        self.slow = slow
        self.next: list[str] = []
        self.methods: list[str] | None = None
        self._rng = random.Random(seed)  # noqa: S311 - test fault injection, not security

    def configure(self, body: dict[str, Any]) -> None:
        with self._lock:
            if "rate" in body:
                rate = float(body["rate"])
                if not 0 <= rate <= 1:
                    raise ValueError("rate must be between 0 and 1")
                self.rate = rate
            if "faults" in body:
                self.kinds = check_kinds(body["faults"])
            if "next" in body:
                self.next = check_kinds(body["next"])
            if "seed" in body:
                self._rng = random.Random(body["seed"])  # noqa: S311
            if "slow" in body:
                self.slow = float(body["slow"])
            if "methods" in body:
                methods = body["methods"]
                self.methods = None if methods is None else [str(m).upper() for m in methods]

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self.rate,
                "faults": self.kinds,
                "slow": self.slow,
                "next": self.next,
                "methods": self.methods,
            }

    def pick(self, method: str) -> str | None:
        with self._lock:
            if self.methods is not None and method not in self.methods:
                return None
            if self.next:
                return self.next.pop(0)
            if self.rate > 0 and self.kinds and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
            return None


def check_kinds(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    kinds = [str(v).strip() for v in value]
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad:
        raise ValueError(f"unknown fault kind(s) {', '.join(bad)}; known: {', '.join(FAULT_KINDS)}")
    return kinds


@dataclass
class Stats:
    writes: int = 0
    write_attempts: int = 0
    requests: dict[str, int] = field(default_factory=lambda: {"GET": 0, "POST": 0, "PUT": 0, "DELETE": 0})
    rejected: int = 0
    rate_limited: int = 0
    faults: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0))
    applies: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "writes": self.writes,
            "write_attempts": self.write_attempts,
            "requests": dict(self.requests),
            "rejected": self.rejected,
            "rate_limited": self.rate_limited,
            "faults": dict(self.faults),
            "applies": self.applies,
        }


class Served:
    """One deployment: its broker, its counters, and its apply worker (one thread, so one broker start at a time
    per deployment while deployments apply side by side)."""

    def __init__(self, spec: DeploymentSpec, mosquitto: Mosquitto) -> None:
        self.spec = spec
        self.deployment_id = spec.deployment_id
        self.mosquitto = mosquitto
        self.stats = Stats()
        self.jobs: queue.Queue[tuple[bool, threading.Event | None] | None] = queue.Queue()
        self.worker: threading.Thread | None = None
        self.last_error: str | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}
        self.close = close  # the rest of the stream cannot be trusted: answer, then close the connection


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ApiError(400, f"a number in the body has more than {MAX_DIGITS} digits")
    return int(text)


def _json_float(text: str) -> float:
    if sum(c.isdigit() for c in text) > MAX_DIGITS:
        raise ApiError(400, f"a number in the body has more than {MAX_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise ApiError(400, "a number in the body is out of range")
    return value


def _json_constant(text: str) -> None:
    raise ApiError(400, f"{text} is not a JSON number (NaN and Infinity are not JSON)")


def _depth(value: Any) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, numbers of at most MAX_DIGITS digits, nested MAX_JSON_DEPTH deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not JSON: it is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:  # the message gives the place, never the content
        raise ApiError(400, f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ApiError(400, f"the body is JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ApiError(400, f"the body is JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def split_cert(cert: str) -> tuple[str, str | None]:
    """The leaf (first PEM certificate) and the rest (its chain), as sent in ``cert``."""
    index = cert.find(_END_CERT)
    if index < 0:
        return cert, None
    cut = index + len(_END_CERT)
    leaf, rest = cert[:cut] + "\n", cert[cut:].strip()
    return leaf, (rest + "\n") if rest else None


def utc_text(when: datetime.datetime) -> str:
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sandbox:
    """State, validation, rate limits and the apply workers of every deployment; the HTTP handler calls into it."""

    def __init__(self, settings: Settings, mosquitto: Mosquitto | Mapping[str, Mosquitto], store: Store) -> None:
        self.settings = settings
        specs = settings.deployment_specs()
        brokers = {specs[0].deployment_id: mosquitto} if isinstance(mosquitto, Mosquitto) else dict(mosquitto)
        self.deployments: dict[str, Served] = {
            spec.deployment_id: Served(spec, brokers[spec.deployment_id]) for spec in specs
        }
        self.store = store
        self.faults = Faults(settings.fault_rate, settings.faults, settings.fault_seed, settings.fault_slow)
        self.stats = Stats()  # the totals over every deployment
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._policy: Any = None
        # One lock per deployment around every read-modify-write of its configuration, so concurrent
        # POST/PUT/DELETE (and the worker's pending -> running) behave as if one after another.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @property
    def first(self) -> Served:
        return next(iter(self.deployments.values()))

    @property
    def mosquitto(self) -> Mosquitto:
        """The first deployment's broker (the only one with the plain mqtt listener)."""
        return self.first.mosquitto

    @property
    def last_error(self) -> str | None:
        return next((d.last_error for d in self.deployments.values() if d.last_error), None)

    def lock(self, deployment_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(deployment_id, threading.Lock())

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the apply workers and bring every broker to the stored state (a restart keeps TLS)."""
        self._policy = self._load_policy()
        for served in self.deployments.values():
            # Every mosquitto start of a deployment happens on its one long-lived worker thread (the brokers get
            # PDEATHSIG when it exits).
            served.worker = threading.Thread(
                target=self._work, args=(served,), name=f"sandbox-apply-{served.deployment_id}", daemon=True
            )
            served.worker.start()
            config = self.store.get(served.deployment_id)
            if config is not None and config.status != "pending":
                self.store.set_status(config.deployment_id, config.generation, "pending")
        done = [self.sync(deployment_id, wait=False, delayed=False) for deployment_id in self.deployments]
        for event in done:
            if event is not None:
                event.wait(60)
        if self.settings.mqtt_port and not self.mosquitto.running():
            raise MosquittoError(f"mosquitto did not start: {self.first.last_error or 'see the log above'}")

    def stop(self) -> None:
        self._stop.set()
        for served in self.deployments.values():
            served.jobs.put(None)
        for served in self.deployments.values():
            if served.worker is not None and served.worker.is_alive():
                served.worker.join(10)
            served.mosquitto.stop()

    def _load_policy(self) -> Any:
        from certhygiene.policy import load_policy

        return load_policy(profile=self.settings.profile, path=self.settings.policy_path)

    def count(self, attr: str, key: str | None = None, deployment_id: str | None = None) -> None:
        served = self.deployments.get(deployment_id) if deployment_id is not None else None
        with self._stats_lock:
            for stats in (self.stats, served.stats if served is not None else None):
                if stats is None:
                    continue
                if key is None:
                    setattr(stats, attr, getattr(stats, attr) + 1)
                else:
                    table = getattr(stats, attr)
                    table[key] = table.get(key, 0) + 1

    def stats_dict(self) -> dict[str, Any]:
        """The totals (as with one deployment) and, under ``deployments``, each deployment's own counters."""
        with self._stats_lock:
            out = self.stats.as_dict()
            per = {d.deployment_id: d.stats.as_dict() for d in self.deployments.values()}
        for deployment_id, counters in per.items():
            counters.pop("faults")  # faults are drawn before the path is read: counted in the totals only
            counters["mosquitto_starts"] = self.deployments[deployment_id].mosquitto.starts
        out["mosquitto_starts"] = sum(d.mosquitto.starts for d in self.deployments.values())
        out["deployments"] = per
        return out

    def _deployment_state(self, served: Served) -> dict[str, Any]:
        config = self.store.get(served.deployment_id)
        proc = served.mosquitto.proc
        return {
            "deployment_id": served.deployment_id,
            "tls": config.public() if config else None,
            "mosquitto": {"pid": proc.pid if proc else None, "running": served.mosquitto.running()},
            "listeners": served.mosquitto.listeners(),
        }

    def state_dict(self) -> dict[str, Any]:
        """The first deployment's state at the top (as with one deployment), every deployment's under ``deployments``."""
        out = self._deployment_state(self.first)
        out["deployments"] = {d.deployment_id: self._deployment_state(d) for d in self.deployments.values()}
        return out

    # ---- the apply workers ---------------------------------------------------------------------------
    def sync(self, deployment_id: str, *, wait: bool, delayed: bool) -> threading.Event | None:
        """Queue a reconcile of ``deployment_id``; with ``wait``, return once it is done (or after 60 s)."""
        done = threading.Event()
        self.deployments[deployment_id].jobs.put((delayed, done))
        if wait:
            done.wait(60)
            return None
        return done

    def _work(self, served: Served) -> None:
        while not self._stop.is_set():
            job = served.jobs.get()
            if job is None:
                return
            delayed, done = job
            try:
                if delayed and self._stop.wait(self.settings.apply_delay):
                    return
                self._reconcile(served)
            except MosquittoError as exc:
                served.last_error = str(exc)
                LOG.error("deployment %s: %s", served.deployment_id, exc)
            except Exception as exc:  # pragma: no cover - keep the worker alive; log no request data
                served.last_error = exc.__class__.__name__
                LOG.error("deployment %s: apply failed: %s", served.deployment_id, exc.__class__.__name__)
            finally:
                if done is not None:
                    done.set()

    def _reconcile(self, served: Served) -> None:
        deployment_id = served.deployment_id
        mosquitto = served.mosquitto
        config = self.store.get(deployment_id)
        if config is None:
            if mosquitto.tls is not None or (mosquitto.mqtt_port and not mosquitto.running()):
                mosquitto.apply(None)
            return
        if config.status != "pending":
            return
        self.count("applies", deployment_id=deployment_id)
        tls = TlsFiles(config.tls_type, config.cert_pem, config.key_pem, config.cacert_pem)
        try:
            mosquitto.apply(tls)
        except MosquittoError as exc:
            LOG.error("deployment %s: applying TLS (generation %s) failed: %s", deployment_id, config.generation, exc)
            try:
                mosquitto.apply(None)  # keep the plain listener up
            except MosquittoError as again:
                LOG.error("mosquitto does not start even without TLS: %s", again)
            with self.lock(deployment_id):
                self.store.set_status(deployment_id, config.generation, "failed", f"the broker did not start: {exc}")
            return
        with self.lock(deployment_id):  # only the generation just applied, unless a write superseded it
            applied = self.store.set_status(deployment_id, config.generation, "running")
        if applied:
            LOG.info(
                "deployment %s: TLS %s running (cn=%s, expire=%s)",
                deployment_id,
                config.tls_type,
                config.cn,
                config.expire,
            )

    # ---- API -------------------------------------------------------------------------------------------
    def check_deployment(self, deployment_id: str) -> None:
        if deployment_id not in self.deployments:
            raise ApiError(403, f"this API key is not authorized for deployment '{deployment_id}'")

    def get_tls(self, deployment_id: str) -> dict[str, str]:
        self.check_deployment(deployment_id)
        config = self.store.get(deployment_id)
        if config is None:
            raise ApiError(404, f"no TLS/SSL configuration on deployment '{deployment_id}'")
        return config.public()

    def _check_rate(self, deployment_id: str) -> None:
        """Each deployment has its own write limit (its own, else the sandbox's) over its own write log."""
        spec = self.deployments[deployment_id].spec
        limit = spec.write_limit if spec.write_limit is not None else self.settings.write_limit
        if not limit:
            return
        now = time.time()
        recent = self.store.writes_since(now - WINDOW, deployment_id)
        if len(recent) >= limit:
            retry = max(1, math.ceil(recent[len(recent) - limit] + WINDOW - now))
            self.count("rate_limited", deployment_id=deployment_id)
            raise ApiError(
                429,
                f"write limit reached: {limit} writes an hour; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )

    def write_tls(self, method: str, deployment_id: str, body: Any) -> dict[str, str]:
        self.check_deployment(deployment_id)
        tls_type, cert, key, cacert = self._parse_body(body)
        with self.lock(deployment_id):
            existing = self.store.get(deployment_id)
            if method == "POST" and existing is not None:
                raise ApiError(
                    409, f"deployment '{deployment_id}' already has a TLS/SSL configuration; update it with PUT"
                )
            if method == "PUT" and existing is None:
                raise ApiError(404, f"no TLS/SSL configuration on deployment '{deployment_id}'; create it with POST")
            self._check_rate(deployment_id)
            leaf, chain = split_cert(cert)
            findings = self._misplaced_keys(cert, cacert if tls_type == "two-way" else None)
            if not findings:
                findings = self._validate(leaf, chain, key, cacert, tls_type).findings
            errors = [f for f in findings if f.severity == "error"]
            if errors:
                self.count("rejected", deployment_id=deployment_id)
                raise ApiError(
                    422,
                    f"certificate rejected: {len(errors)} error(s): {errors[0].message}",
                    extra={"findings": [f.as_dict() for f in findings]},
                )
            cn, expire = self._leaf_facts(leaf)
            config = self.store.put(
                deployment_id, tls_type, cert, key, cacert if tls_type == "two-way" else None, cn, expire
            )
            self.store.record_write(method, deployment_id)
            self.count("writes", deployment_id=deployment_id)
        LOG.info(
            "deployment %s: %s TLS %s accepted (cn=%s, expire=%s), pending", deployment_id, method, tls_type, cn, expire
        )
        self.sync(deployment_id, wait=False, delayed=True)
        return config.public()

    def delete_tls(self, deployment_id: str) -> None:
        self.check_deployment(deployment_id)
        with self.lock(deployment_id):
            if self.store.get(deployment_id) is None:
                raise ApiError(404, f"no TLS/SSL configuration on deployment '{deployment_id}'")
            self._check_rate(deployment_id)
            self.store.delete(deployment_id)
            self.store.record_write("DELETE", deployment_id)
            self.count("writes", deployment_id=deployment_id)
        LOG.info("deployment %s: TLS deleted; closing the mqtts and wss listeners", deployment_id)
        self.sync(deployment_id, wait=True, delayed=False)

    @staticmethod
    def _parse_body(body: Any) -> tuple[str, str, str, str | None]:
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object with tlsType, cert, key (and cacert for two-way)")
        tls_type = body.get("tlsType")
        if tls_type not in TLS_TYPES:
            raise ApiError(400, "tlsType must be 'one-way' or 'two-way'")
        values: dict[str, str | None] = {}
        for name in ("cert", "key", "cacert"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise ApiError(400, f"{name} must be a string holding PEM text")
            values[name] = value or None
        for name in ("cert", "key"):
            if not values[name]:
                raise ApiError(400, f"missing '{name}'")
        if tls_type == "two-way" and not values["cacert"]:
            raise ApiError(400, "two-way TLS needs 'cacert', the client CA certificate")
        cert, key = values["cert"], values["key"]
        assert cert is not None and key is not None
        return tls_type, cert, key, values["cacert"]

    @staticmethod
    def _misplaced_keys(cert: str, cacert: str | None) -> list[Any]:
        """A private key pasted into ``cert`` or ``cacert``: the engine would take it as the key and the
        sandbox would store it beside the certificates, so the API refuses it and names the field."""
        from certhygiene.findings import Finding
        from certhygiene.material import read_bytes

        findings = []
        for name, text in (("cert", cert), ("cacert", cacert)):
            if not text:
                continue
            for block in read_bytes(text.encode(), name).private_keys:
                findings.append(
                    Finding(
                        rule_id="pem.encoding",
                        severity="error",
                        path=name,
                        line=block.start_line,
                        end_line=block.end_line,
                        message=f"'{name}' holds a private key (line {block.start_line}); "
                        f"'{name}' takes only certificates",
                        hint="send the private key in 'key' alone, and only certificates in "
                        "'cert' (the leaf followed by its chain) and 'cacert'",
                    )
                )
        return findings

    def _validate(self, leaf: str, chain: str | None, key: str, cacert: str | None, tls_type: str) -> Any:
        from certhygiene.check import check_material

        return check_material(
            certificate=leaf.encode(),
            chain=chain.encode() if chain else None,
            private_key=key.encode(),
            client_ca=cacert.encode() if (cacert and tls_type == "two-way") else None,
            auth_type=tls_type,
            policy=self._policy,
            names={"certificate": "cert", "chain": "cert (chain)", "private_key": "key", "client_ca": "cacert"},
        )

    @staticmethod
    def _leaf_facts(leaf: str) -> tuple[str, str]:
        from certhygiene import facts
        from certhygiene._crypto import x509

        cert = x509.load_pem_x509_certificate(leaf.encode())
        return facts.common_name(cert.subject) or "", utc_text(facts.not_after(cert))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "certhygiene-sandbox/0.1"
    sandbox: Sandbox  # set on the subclass made by make_server
    # timeout (seconds per read, idle keep-alive included) is set there too: a client that stops sending is dropped

    # Access log: method, path and status only (never headers or bodies).
    def log_message(self, format: str, *args: Any) -> None:
        LOG.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # ---- plumbing ------------------------------------------------------------------------------
    def _length(self) -> int:
        """The body's length from the headers; framing we cannot follow is refused (and the connection closed)."""
        if self.headers.get_all("Transfer-Encoding"):
            raise ApiError(
                400, "Transfer-Encoding is not supported: send the body with a Content-Length header", close=True
            )
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if not values:
            return 0
        if len(values) > 1:
            raise ApiError(400, "conflicting Content-Length headers", close=True)
        value = values.pop()
        if not re.fullmatch(r"[0-9]+", value):
            raise ApiError(400, "Content-Length must be a non-negative integer (bytes in the body)", close=True)
        if len(value) > 16 or int(value) > MAX_BODY:
            raise ApiError(413, f"request body too large: the limit is {MAX_BODY} bytes", close=True)
        return int(value)

    def _body(self, length: int) -> bytes:
        self._unread = 0  # from here on the stream is either consumed or closed
        if length <= 0:
            return b""
        try:
            data = self.rfile.read(length)
        except TimeoutError:
            raise ApiError(408, f"the request body did not arrive within {self.timeout} s", close=True) from None
        if len(data) != length:
            raise ApiError(400, "the body is shorter than its Content-Length", close=True)
        return data

    def _send(
        self, status: int, payload: Any = None, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        if close or getattr(self, "_unread", 0):  # an unread body would be taken for the next request
            self.close_connection = True
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if data:
                self.wfile.write(data)
        except OSError:  # the client went away (reset, broken pipe, timeout)
            self.close_connection = True

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _unused, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _unused, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        settings = self.sandbox.settings
        ok_user = hmac.compare_digest(user.encode(), settings.api_key.encode())
        ok_password = hmac.compare_digest(password.encode(), settings.api_secret.encode())
        return ok_user and ok_password

    def _require_auth(self) -> None:
        if not self._authorized():
            raise ApiError(
                401,
                "authentication required: HTTP Basic with the API key and secret",
                headers={"WWW-Authenticate": 'Basic realm="certhygiene sandbox"'},
            )

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self._unread = 0
        try:
            # order: framing (400/413), injected faults (API only), credentials (401, on every path), then
            # the body, then the path (404) and method (405)
            length = self._unread = self._length()
            api = path.startswith(API_PREFIX + "/") or path == API_PREFIX
            if api and self._fault(method):
                return
            self._require_auth()
            raw = self._body(length)
            if api:
                self._api(method, path[len(API_PREFIX) :], raw)
            elif path.startswith("/_sandbox/"):
                self._control(method, path, raw)
            else:
                raise ApiError(404, f"no such path: {path}")
        except ApiError as err:
            payload = {"code": err.status, "message": err.message, **err.extra}
            self._send(err.status, payload, err.headers, close=err.close)
        except Exception as exc:  # a bug: answer 500, log the type and place (never the request)
            LOG.error("internal error on %s %s: %s", method, path, exc.__class__.__name__)
            LOG.debug("internal error traceback", exc_info=True)
            self._send(500, {"code": 500, "message": f"internal error: {exc.__class__.__name__}"}, close=True)

    def _fault(self, method: str) -> bool:
        """Inject the next fault, if any; True when the request is dropped without an answer."""
        sandbox = self.sandbox
        fault = sandbox.faults.pick(method)
        if fault is None:
            return False
        sandbox.count("faults", fault)
        LOG.info("fault injected: %s on %s %s", fault, method, self.path)
        if fault == "drop":
            self.close_connection = True
            return True
        if fault == "500":
            raise ApiError(500, "internal error (injected fault)")
        if fault == "429":
            raise ApiError(429, "too many requests (injected fault)", headers={"Retry-After": "1"})
        time.sleep(sandbox.faults.slow)  # slow: then answer normally
        return False

    def _api(self, method: str, path: str, raw: bytes) -> None:
        sandbox = self.sandbox
        match = _TLS_PATH.match(path)
        if not match:
            raise ApiError(404, f"no such path: {API_PREFIX}{path}")
        deployment_id = match.group(1)
        known = deployment_id if deployment_id in sandbox.deployments else None
        if method in sandbox.stats.requests:
            sandbox.count("requests", method, deployment_id=known)
        if method == "GET":
            self._send(200, sandbox.get_tls(deployment_id))
            return
        if method not in WRITE_METHODS:
            raise ApiError(405, f"method {method} not allowed", headers={"Allow": "GET, POST, PUT, DELETE"})
        sandbox.count("write_attempts", deployment_id=known)
        if method == "DELETE":
            sandbox.delete_tls(deployment_id)
            self._send(204)
            return
        body = parse_json(raw) if raw else None
        self._send(200, sandbox.write_tls(method, deployment_id, body))

    def _control(self, method: str, path: str, raw: bytes) -> None:
        sandbox = self.sandbox
        if path == "/_sandbox/stats" and method == "GET":
            self._send(200, sandbox.stats_dict())
        elif path == "/_sandbox/state" and method == "GET":
            self._send(200, sandbox.state_dict())
        elif path == "/_sandbox/faults" and method == "GET":
            self._send(200, sandbox.faults.as_dict())
        elif path == "/_sandbox/faults" and method in ("PUT", "POST"):
            body = parse_json(raw) if raw else {}
            if not isinstance(body, dict):
                raise ApiError(400, "the body must be a JSON object")
            try:
                sandbox.faults.configure(body)
            except (ValueError, TypeError) as exc:
                raise ApiError(400, str(exc)) from None
            LOG.info("faults set: %s", sandbox.faults.as_dict())
            self._send(200, sandbox.faults.as_dict())
        else:
            raise ApiError(404, f"no such path: {path}")


class SandboxHTTPServer(ThreadingHTTPServer):
    """The API server: a sensible listen backlog, and at most ``max_connections`` connections at a time (the
    next ones get 503 at once), so idle clients cannot take every thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], handler: type[Handler], max_connections: int) -> None:
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        LOG.warning("refusing a connection: %s connections open (the limit)", self.max_connections)
        data = json.dumps(
            {"code": 503, "message": f"too many connections (the limit is {self.max_connections}); retry later"}
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        try:
            request.settimeout(1.0)  # on the accept thread: never wait for a slow client
            request.sendall(head.encode() + data)
            request.setblocking(False)
            request.recv(65536)  # what already arrived, so closing does not reset the answer away
        except OSError:
            pass
        self.shutdown_request(request)


class SandboxHTTPServer6(SandboxHTTPServer):
    address_family = socket.AF_INET6


def make_server(sandbox: Sandbox) -> SandboxHTTPServer:
    settings = sandbox.settings
    handler = type("BoundHandler", (Handler,), {"sandbox": sandbox, "timeout": settings.client_timeout})
    server_class = SandboxHTTPServer6 if ":" in settings.host else SandboxHTTPServer
    return server_class((settings.host, settings.api_port), handler, settings.max_connections)


def banner(settings: Settings, api_port: int, credentials_path: str) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    specs = settings.deployment_specs()
    names = ", ".join(f"'{spec.deployment_id}'" for spec in specs)
    lines = [
        f"certhygiene sandbox: deployment{'s' if len(specs) > 1 else ''} {names}",
        f"  api_url:   http://{host}:{api_port}{API_PREFIX}",
        f"  api_key:   {settings.api_key}   api_secret: see {credentials_path}",
    ]
    if settings.mqtt_port:
        lines.append(
            f"  mqtt:      mqtt://{host}:{settings.mqtt_port}   user '{settings.mqtt_user}', password: see {credentials_path}"
        )
    else:
        lines.append(f"  mqtt user: '{settings.mqtt_user}', password: see {credentials_path}")
    for spec in specs:
        prefix = f"  {spec.deployment_id}: " if len(specs) > 1 else "  "
        lines += [
            f"{prefix}mqtts:     mqtts://{host}:{spec.mqtts_port}  (when TLS is configured)",
            f"{prefix}wss:       wss://{host}:{spec.wss_port}{WSS_PATH}  (when TLS is configured)",
        ]
    lines.append(f"  stats:     http://{host}:{api_port}/_sandbox/stats")
    return "\n".join(lines)
