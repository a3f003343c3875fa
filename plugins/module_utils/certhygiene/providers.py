# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""API dialects: one class per service that holds a deployment's TLS configuration.

Every provider turns the same inputs (leaf, chain, full chain, key, client CA, TLS type) into the calls of its
service, and says what it can read back (``capabilities``), so the plan never guesses:

- ``emqx-cloud``: ``{api_url}/deployments/{id}/tls`` (GET/POST/PUT/DELETE, Basic auth); GET reports the TLS type,
  the leaf's CN and expiry and a status (pending/running/failed), never the certificate;
- ``emqx5-listener``: ``PUT {api_url}/listeners/{id}`` with PEM inline in ``ssl_options``; GET carries the PEM;
- ``generic``: method, URL and JSON body templates; it reads back only when given a GET URL.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .tls_state import Desired, Observed, differences, pem_fingerprint
from .transport import _PEM_KEY, ApiError, Client, Response

API_PROFILES = ("emqx-cloud", "emqx5-listener", "generic")
DEFAULT_LISTENER = "ssl:default"

_PLACEHOLDER_NAMES = (
    "api_url|deployment_id|leaf|chain|fullchain|key|client_ca|tls_type|cn|verify|two_way|dns_names|ip_addresses|sans"
)


@dataclass(frozen=True)
class Capabilities:
    """What a dialect can tell about the configuration it holds."""

    read: bool  # the current configuration can be read back at all
    status: bool  # it reports pending/running/failed
    cn: bool  # it reports the leaf's common name
    expiry: bool  # it reports the leaf's expiry
    pem: bool  # the answer may carry the certificate PEM
    fingerprint: bool  # so the leaf's fingerprint can be compared

    def as_dict(self) -> dict[str, bool]:
        return {
            "read": self.read,
            "status": self.status,
            "cn": self.cn,
            "expiry": self.expiry,
            "pem": self.pem,
            "fingerprint": self.fingerprint,
        }


@dataclass
class GenericSpec:
    """A service described by templates (see ``generic`` in the module's documentation)."""

    url_template: str
    body_template: Any
    method: str = "PUT"
    get_url_template: str | None = None
    delete_url_template: str | None = None
    delete_method: str = "DELETE"


class Provider:
    """One deployment's TLS configuration through one dialect: read, write, delete, wait."""

    name = ""

    def __init__(self, client: Client, *, api_url: str, deployment_id: str) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.deployment_id = deployment_id

    # ---- what a dialect says about itself

    @property
    def capabilities(self) -> Capabilities:
        raise NotImplementedError

    @property
    def profile(self) -> str:
        """The dialect's name (kept for callers of the former ``Deployment``)."""
        return self.name

    @property
    def has_status(self) -> bool:
        return self.capabilities.status

    def url(self, method: str = "GET") -> str:
        raise NotImplementedError

    def write_method(self, observed: Observed) -> str:
        raise NotImplementedError

    def delete_method(self) -> str:
        return "DELETE"

    def body(self, desired: Desired) -> Any:
        raise NotImplementedError

    def parse(self, data: Any) -> Observed:
        raise NotImplementedError

    def retry_opposite_write(self, method: str, status: int) -> str | None:
        """A write method to try instead when the state changed since the read (create <-> update)."""
        return None

    # ---- read

    def read(self) -> Observed:
        if not self.capabilities.read:
            return Observed(present=True)  # cannot tell: the plan asks for a write
        response = self.client.request("GET", self.url("GET"))
        if response.status == 404:
            return Observed(present=False)
        self._raise_for(response, "GET")
        return self.parse(response.json())

    # ---- write

    def write(self, desired: Desired, observed: Observed) -> Response:
        """Create or update; raises ApiError with ``applied`` True, False or None (unknown)."""
        method = self.write_method(observed)
        url = self.url(method)

        def converged() -> bool:
            if not self.capabilities.read:
                return False
            if not differences(desired, observed, use_endpoint=False):
                return False  # the read cannot tell our write from the old state
            return not differences(desired, self.read(), use_endpoint=False)

        response = self._send(method, url, self.body(desired), converged, desired, observed)
        if not response.converged:
            other = self.retry_opposite_write(method, response.status)
            if other is not None:
                method = other
                response = self._send(method, url, self.body(desired), converged, desired, observed)
        if response.converged or response.status in (200, 201, 202, 204):
            return response
        raise self._error(response, method, applied=False)

    def _send(
        self,
        method: str,
        url: str,
        body: Any,
        converged: Callable[[], bool],
        desired: Desired,
        observed: Observed,
    ) -> Response:
        try:
            return self.client.request(method, url, body, converged=converged)
        except ApiError as exc:
            exc.applied = self.landed(desired, observed)
            exc.message = self.client.redact(exc.message)
            raise

    def landed(self, desired: Desired, observed: Observed) -> bool | None:
        """After a failed write: did it land anyway? None when it cannot be told."""
        if not self.capabilities.read:
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
        method = self.delete_method()
        url = self.url(method)

        def converged() -> bool:
            return self.capabilities.read and not self.read().present

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
            if not self.capabilities.status or observed.status in (None, "running"):
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
        what = f"{method} {urllib.parse.urlsplit(self.url(method)).path}"
        if status in (401, 403):
            text = f"{what}: {status} authentication failed ({said}); check api_key and api_secret"
        elif status == 404:
            text = f"{what}: 404 not found ({said}); check api_url and deployment_id"
        elif status == 422:
            text = f"{what}: 422 the service rejected the certificate: {said}"
        else:
            text = f"{what}: {status} {said}"
        return ApiError(text, status=status, details=public(response.json()), applied=applied)


class EmqxCloud(Provider):
    """The cloud's platform API: one resource per deployment, POST creates, PUT updates."""

    name = "emqx-cloud"

    def __init__(self, client: Client, *, api_url: str, deployment_id: str) -> None:
        if not deployment_id:
            raise ApiError("deployment_id is required for the emqx-cloud profile")
        super().__init__(client, api_url=api_url, deployment_id=deployment_id)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(read=True, status=True, cn=True, expiry=True, pem=False, fingerprint=False)

    def url(self, method: str = "GET") -> str:
        return f"{self.api_url}/deployments/{urllib.parse.quote(self.deployment_id, safe='')}/tls"

    def write_method(self, observed: Observed) -> str:
        return "PUT" if observed.present else "POST"

    def retry_opposite_write(self, method: str, status: int) -> str | None:
        if (method, status) in (("POST", 409), ("PUT", 404)):
            return "PUT" if method == "POST" else "POST"
        return None

    def body(self, desired: Desired) -> Any:
        body: dict[str, Any] = {"tlsType": desired.tls_type, "cert": desired.fullchain_pem, "key": desired.key_pem}
        if desired.tls_type == "two-way":
            body["cacert"] = desired.client_ca_pem
        return body

    def parse(self, data: Any) -> Observed:
        if not isinstance(data, dict):
            raise ApiError(f"GET {self.url()}: the answer is not a JSON object", status=200)
        if isinstance(data.get("data"), dict):  # some gateways wrap the object
            data = data["data"]
        tls_type = data.get("tlsType")
        return Observed(
            present=bool(tls_type) or data.get("status") is not None,
            tls_type=str(tls_type) if tls_type else None,
            cn=str(data["cn"]) if data.get("cn") else None,
            expire=data.get("expire"),
            status=str(data["status"]) if data.get("status") is not None else None,
            raw=public(data),
        )


class Templated(Provider):
    """A dialect whose requests come from templates (``GenericSpec``)."""

    def __init__(self, client: Client, *, api_url: str, deployment_id: str, spec: GenericSpec) -> None:
        super().__init__(client, api_url=api_url, deployment_id=deployment_id)
        self.spec = spec

    @property
    def capabilities(self) -> Capabilities:
        readable = bool(self.spec.get_url_template)
        # A generic answer may or may not carry the PEM: the fingerprint is compared when it does.
        return Capabilities(read=readable, status=False, cn=False, expiry=False, pem=readable, fingerprint=readable)

    def url(self, method: str = "GET") -> str:
        spec = self.spec
        if method == "GET":
            template = spec.get_url_template or spec.url_template
        elif method == spec.delete_method.upper() and method != spec.method.upper():
            template = spec.delete_url_template or spec.get_url_template or spec.url_template
        else:
            template = spec.url_template
        return _url(template, self.api_url, self.deployment_id)

    def write_method(self, observed: Observed) -> str:
        return self.spec.method.upper()

    def delete_method(self) -> str:
        return self.spec.delete_method.upper()

    def body(self, desired: Desired) -> Any:
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
        return _render(self.spec.body_template, values)

    def parse(self, data: Any) -> Observed:
        observed = Observed(present=True, raw=public(data))
        observed.fingerprint = pem_fingerprint(json.dumps(data)) if data is not None else None
        return observed


class Generic(Templated):
    name = "generic"


class Emqx5Listener(Templated):
    """EMQX 5's listener API: the PEM travels inline in ``ssl_options`` and comes back on GET."""

    name = "emqx5-listener"
    SPEC = GenericSpec(
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

    def __init__(self, client: Client, *, api_url: str, deployment_id: str) -> None:
        super().__init__(client, api_url=api_url, deployment_id=deployment_id or DEFAULT_LISTENER, spec=self.SPEC)

    def parse(self, data: Any) -> Observed:
        observed = Observed(present=True, raw=public(data))
        if not isinstance(data, dict):
            observed.fingerprint = pem_fingerprint(json.dumps(data)) if data is not None else None
            return observed
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


def make_provider(
    client: Client,
    *,
    api_url: str,
    deployment_id: str,
    api_profile: str = "emqx-cloud",
    generic: GenericSpec | None = None,
) -> Provider:
    """The provider of one dialect; ApiError names what is missing."""
    if api_profile == "emqx-cloud":
        return EmqxCloud(client, api_url=api_url, deployment_id=deployment_id)
    if api_profile == "emqx5-listener":
        return Emqx5Listener(client, api_url=api_url, deployment_id=deployment_id)
    if api_profile == "generic":
        if generic is None:
            raise ApiError("the generic profile needs url_template and body_template")
        return Generic(client, api_url=api_url, deployment_id=deployment_id, spec=generic)
    raise ApiError(f"unknown profile {api_profile!r}; use one of {', '.join(API_PROFILES)}")


# --------------------------------------------------------------------------- templates and answers


_PLACEHOLDER = re.compile(r"\{(" + _PLACEHOLDER_NAMES + r")\}")


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


def public(data: Any) -> Any:
    """An API answer for results: private-key material removed."""
    if isinstance(data, dict):
        return {
            k: ("[removed]" if "key" in str(k).lower() and "apikey" not in str(k).lower() else public(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [public(v) for v in data]
    if isinstance(data, str):
        return _PEM_KEY.sub("[private key removed]", data)
    return data
