# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The push as plan/apply: the one workflow behind tls_config, the deployment_tls role and ``certhygiene push``.

``plan(desired, observed, capabilities)`` says what would change and why, from what the deployment reports (and,
when it was looked at, what its endpoint presents). ``apply(provider, plan)`` makes only that change and says what
happened in three states: ``applied``, ``not applied`` or ``unknown`` (an answer was lost and the service cannot be
read back). Check mode is ``apply`` that stops before the write, so its prediction is the plan itself.

``push`` and ``remove`` are the whole workflow (policy check -> desired -> read -> plan -> apply -> wait ->
endpoint) returning an ``Outcome`` whose ``result`` is what a door shows: the module returns it, the CLI prints it.
The endpoint's certificate comes from the probe (``probe.presented_leaf``) only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .check import check_material
from .facts import sha256_fingerprint, subject_text
from .policy import Policy
from .probe import presented_leaf
from .providers import Capabilities, Provider
from .tls_state import Desired, Observed, build_desired, differences
from .transport import ApiError

APPLIED = "applied"
NOT_APPLIED = "not applied"
UNKNOWN = "unknown"

DISCONNECT_WARNING = (
    "Deleting the TLS configuration disconnects every client on 8883 (mqtts) and 8084 (wss); "
    "make sure this does not affect your business."
)


@dataclass
class EndpointSpec:
    """The live endpoint that proves a push: its certificate is compared with the desired one."""

    host: str
    port: int = 8883
    server_name: str | None = None
    timeout: float = 10.0


@dataclass
class Material:
    """What a door read: bytes and the display name of each item (a path, or the option's name)."""

    auth_type: str
    certificate: bytes | None
    chain: bytes | None = None
    private_key: bytes | None = field(default=None, repr=False)
    client_ca: bytes | None = None
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    """What would change and why. ``action``: none, create, update or delete."""

    action: str
    reasons: list[str]
    observed: Observed
    desired: Desired | None = None

    @property
    def changes(self) -> bool:
        return self.action != "none"


@dataclass
class Outcome:
    """What happened. ``applied`` is APPLIED, NOT_APPLIED or UNKNOWN; ``message`` is set when it failed."""

    changed: bool
    applied: str
    result: dict[str, Any]
    message: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.message is not None


# --------------------------------------------------------------------------- plan


def plan(desired: Desired | None, observed: Observed, capabilities: Capabilities) -> Plan:
    """What a push of ``desired`` (None: a delete) would change on a deployment that reports ``observed``."""
    if desired is None:
        if capabilities.read and not observed.present:
            return Plan("none", [], observed)
        return Plan("delete", ["TLS configuration present -> absent"], observed)
    reasons = differences(desired, observed)
    if not reasons:
        return Plan("none", [], observed, desired)
    return Plan("update" if observed.present else "create", reasons, observed, desired)


# --------------------------------------------------------------------------- apply


def apply(
    provider: Provider,
    change: Plan,
    *,
    check_mode: bool = False,
    wait: bool = True,
    wait_timeout: float = 300,
    endpoint: EndpointSpec | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Make the planned change (nothing in check mode) and say what happened."""
    result = _result(provider, change)
    desired = change.desired
    if desired is None:
        return _apply_delete(provider, change, result, check_mode)
    observed = change.observed
    if not change.changes:
        result["after"] = result["before"]
        if wait and observed.status == "pending" and not check_mode:
            try:
                result["after"] = view(provider.wait_running(wait_timeout, sleep=sleep))
            except ApiError as exc:
                return _failed(provider, result, exc.message, UNKNOWN)
        return _done(provider, result, False, NOT_APPLIED)
    if check_mode:
        result["after"] = result["desired"]
        return _done(provider, result, True, NOT_APPLIED)
    result["changed"] = True
    try:
        provider.write(desired, observed)
    except ApiError as exc:
        if exc.applied:
            state = "The write was applied after all (the service answered with an error, but reads back the new "
            state += "configuration)"
            applied = APPLIED
        elif exc.applied is None:
            state = "It is unknown whether the write was applied; read the configuration with tls_config_info"
            applied = UNKNOWN
        else:
            state = f"Nothing was applied: {_previous(observed)}"
            applied = NOT_APPLIED
        return _failed(
            provider,
            result,
            f"Pushing the TLS configuration failed: {exc.message}. {state}.",
            applied,
            details=exc.details,
        )
    result["applied"] = True
    after = observed
    if wait:
        try:
            after = provider.wait_running(wait_timeout, sleep=sleep)
        except ApiError as exc:
            return _failed(provider, result, f"{exc.message}. The write was applied.", APPLIED, after=exc.details)
        if endpoint is not None:
            failure = _wait_endpoint(desired, after, endpoint, wait_timeout, sleep)
            if failure:
                return _failed(provider, result, failure, APPLIED, after=view(after))
    else:
        try:
            after = provider.read()
        except ApiError:
            after = Observed(present=True)
    result["after"] = view(after)
    return _done(provider, result, True, APPLIED)


def _apply_delete(provider: Provider, change: Plan, result: dict[str, Any], check_mode: bool) -> Outcome:
    result["after"] = {"present": False}
    result["diff"] = {"before": result["before"], "after": result["after"]}
    if not change.changes:
        return _done(provider, result, False, NOT_APPLIED)
    warnings = [DISCONNECT_WARNING]
    if check_mode:
        return _done(provider, result, True, NOT_APPLIED, warnings)
    try:
        deleted = provider.delete()
    except ApiError as exc:
        outcome = _failed(
            provider,
            result,
            f"The TLS configuration was not deleted: {exc.message}. {_previous(change.observed)}.",
            NOT_APPLIED,
        )
        outcome.warnings = warnings
        return outcome
    result["applied"] = deleted
    if not deleted:
        result["differences"] = []
    return _done(provider, result, deleted, APPLIED if deleted else NOT_APPLIED, warnings)


def _wait_endpoint(
    desired: Desired, after: Observed, endpoint: EndpointSpec, timeout: float, sleep: Callable[[float], None]
) -> str | None:
    """None once the endpoint presents the desired certificate; else why not, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        observe_endpoint(after, endpoint)
        if after.endpoint_fingerprint == desired.fingerprint:
            return None
        if time.monotonic() >= deadline:
            seen = after.endpoint_subject or after.endpoint_error or "nothing"
            return (
                f"The write was applied and the deployment reports '{after.status}', but "
                f"{endpoint.host}:{endpoint.port} still presents {seen} after {timeout:g} s"
            )
        sleep(0.5)


# --------------------------------------------------------------------------- the workflow


def push(
    provider: Provider,
    material: Material,
    *,
    policy: Policy,
    check_mode: bool = False,
    wait: bool = True,
    wait_timeout: float = 300,
    endpoint: EndpointSpec | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Check the material, then plan and apply it. Nothing is sent when the policy finds an error."""
    client_ca = material.client_ca if material.auth_type == "two-way" else None
    names = {"certificate": "certificate", "chain": "chain", "private_key": "private_key"}
    names.update({"client_ca": "client_ca_certificate"}, **material.names)
    report = check_material(
        certificate=material.certificate,
        chain=material.chain,
        private_key=material.private_key,
        client_ca=client_ca,
        auth_type=material.auth_type,
        policy=policy,
        names=names,
    )
    base: dict[str, Any] = {"changed": False, "applied": False, "outcome": NOT_APPLIED, "differences": []}
    base["findings"] = [f.as_dict() for f in report.findings]
    errors = [f for f in report.findings if f.severity == "error"]
    if errors:
        lines = [f"{f.path} [{f.rule_id}] {f.message} Fix: {f.hint}" for f in errors]
        return Outcome(
            False,
            NOT_APPLIED,
            {**base, "requests": []},
            f"The material fails the policy with {len(errors)} error(s); nothing was sent to the deployment:\n"
            + "\n".join(lines),
        )
    warnings = [f"{f.path} [{f.rule_id}] {f.message} Fix: {f.hint}" for f in report.findings if f.severity != "error"]
    try:
        desired = build_desired(
            tls_type=material.auth_type,
            certificate=material.certificate or b"",
            chain=material.chain,
            private_key=material.private_key,
            client_ca=client_ca,
        )
    except ApiError as exc:
        return Outcome(
            False, NOT_APPLIED, {**base, "requests": []}, f"{exc.message}; nothing was sent to the deployment"
        )
    try:
        observed = provider.read()
    except ApiError as exc:
        result = {**base, "desired": desired_view(desired)}
        return _failed(
            provider, result, f"Nothing was sent: cannot read the current TLS configuration: {exc.message}", NOT_APPLIED
        )
    if endpoint is not None:
        observe_endpoint(observed, endpoint)
    outcome = apply(
        provider,
        plan(desired, observed, provider.capabilities),
        check_mode=check_mode,
        wait=wait,
        wait_timeout=wait_timeout,
        endpoint=endpoint,
        sleep=sleep,
    )
    outcome.result = {**base, **outcome.result}
    outcome.warnings = warnings + outcome.warnings
    return outcome


def remove(provider: Provider, *, check_mode: bool = False) -> Outcome:
    """Delete the deployment's TLS configuration when it has one."""
    try:
        observed = provider.read()
    except ApiError as exc:
        result = {"changed": False, "applied": False, "outcome": NOT_APPLIED, "differences": []}
        return _failed(
            provider,
            result,
            f"Nothing was deleted: cannot read the current TLS configuration: {exc.message}",
            NOT_APPLIED,
        )
    return apply(provider, plan(None, observed, provider.capabilities), check_mode=check_mode)


def inspect(provider: Provider, endpoint: EndpointSpec | None = None) -> Observed:
    """What the deployment reports (and its endpoint presents); ApiError when it cannot be read."""
    observed = provider.read()
    if endpoint is not None:
        observe_endpoint(observed, endpoint)
    return observed


def observe_endpoint(observed: Observed, endpoint: EndpointSpec) -> Observed:
    """Record in ``observed`` the certificate the live endpoint presents (or why none could be read)."""
    observed.endpoint_checked = True
    observed.endpoint_fingerprint = observed.endpoint_subject = observed.endpoint_error = None
    try:
        der = presented_leaf(endpoint.host, endpoint.port, endpoint.server_name, endpoint.timeout)
    except Exception as exc:  # OSError, ssl.SSLError, the probe's stage errors: all mean "nothing presented"
        observed.endpoint_error = f"{endpoint.host}:{endpoint.port}: {exc}"[:300]
        return observed
    from ._crypto import x509

    cert = x509.load_der_x509_certificate(der)
    observed.endpoint_fingerprint = sha256_fingerprint(cert)
    observed.endpoint_subject = subject_text(cert)
    return observed


# --------------------------------------------------------------------------- views


def view(observed: Observed) -> dict[str, Any]:
    """The public facts of a reported configuration, as results show it (``before``/``after``)."""
    shown: dict[str, Any] = {"present": observed.present}
    if observed.present:
        shown.update({"tls_type": observed.tls_type, "cn": observed.cn, "expire": observed.expire})
        if observed.status is not None:
            shown["status"] = observed.status
        if observed.fingerprint:
            shown["fingerprint_sha256"] = observed.facts().get("fingerprint_sha256")
        if observed.endpoint_checked:
            endpoint = observed.facts()["endpoint"]
            shown["endpoint"] = endpoint
            # What the live endpoint presents, under the same keys as the desired certificate's facts.
            shown.setdefault("subject", endpoint["subject"])
            shown.setdefault("fingerprint_sha256", endpoint["fingerprint_sha256"])
    return shown


def desired_view(desired: Desired) -> dict[str, Any]:
    facts = desired.facts()
    facts["present"] = True
    return facts


def _previous(observed: Observed) -> str:
    if not observed.present:
        return "the deployment still has no TLS configuration"
    return (
        f"the deployment keeps its previous configuration ({observed.tls_type or 'unknown type'}, "
        f"cn={observed.cn}, expire={observed.expire})"
    )


def _result(provider: Provider, change: Plan) -> dict[str, Any]:
    result: dict[str, Any] = {
        "changed": False,
        "applied": False,
        "outcome": NOT_APPLIED,
        "action": change.action,
        "differences": list(change.reasons),
        "before": view(change.observed),
        "capabilities": provider.capabilities.as_dict(),
    }
    if change.desired is not None:
        result["desired"] = desired_view(change.desired)
        result["diff"] = {"before": result["before"], "after": result["desired"]}
    return result


def _done(
    provider: Provider, result: dict[str, Any], changed: bool, applied: str, warnings: list[str] | None = None
) -> Outcome:
    result["changed"] = changed
    result["applied"] = applied == APPLIED
    result["outcome"] = applied
    result["requests"] = provider.client.log
    return Outcome(changed, applied, result, None, list(warnings or []))


def _failed(provider: Provider, result: dict[str, Any], message: str, applied: str, **extra: Any) -> Outcome:
    result.update(extra)
    result["applied"] = applied == APPLIED
    result["outcome"] = applied
    result["requests"] = provider.client.log
    return Outcome(bool(result.get("changed")), applied, result, provider.client.redact(message))


__all__ = [
    "APPLIED",
    "DISCONNECT_WARNING",
    "NOT_APPLIED",
    "UNKNOWN",
    "EndpointSpec",
    "Material",
    "Outcome",
    "Plan",
    "apply",
    "desired_view",
    "inspect",
    "observe_endpoint",
    "plan",
    "push",
    "remove",
    "view",
]
