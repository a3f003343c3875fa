"""plan/apply per API dialect, over a recorded transport: the answers a service gave, replayed in order.

The transport is the engine's own seam (a callable ``(method, url, headers, body, timeout)``); each test lists
the requests it expects and the recorded answers, and asserts the requests the engine made, so an extra or a
missing write fails the test.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

import pytest
from certhygiene.policy import load_policy
from certhygiene.providers import GenericSpec, Provider, make_provider
from certhygiene.push import APPLIED, NOT_APPLIED, UNKNOWN, Material, apply, plan, push, remove
from certhygiene.tls_state import Desired, build_desired
from certhygiene.transport import Client, RetryPolicy, TransportError, auth_headers
from support.pki import issue, key_pem, pem

SECRET = "recorded-secret-value-1234"
API = "https://api.example.test/v1"


class Recorded:
    """Replays ``(method, path, status, body)`` answers in order; ``status`` None replays a timeout."""

    def __init__(self, *answers: tuple[str, str, int | None, Any]) -> None:
        self.answers = list(answers)
        self.made: list[tuple[str, str]] = []
        self.bodies: list[Any] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        path = url[len(API) :]
        self.made.append((method, path))
        self.bodies.append(json.loads(body) if body else None)
        assert self.answers, f"unexpected request {method} {path}"
        want_method, want_path, status, answer = self.answers.pop(0)
        assert (method, path) == (want_method, want_path)
        if status is None:
            raise TransportError("timeout", "no answer within the timeout")
        data = b"" if answer is None else json.dumps(answer).encode()
        return status, {"content-type": "application/json"}, data

    def done(self) -> list[tuple[str, str]]:
        assert self.answers == [], f"requests the engine did not make: {self.answers}"
        return self.made


@pytest.fixture(scope="module")
def material() -> dict[str, Any]:
    ca = issue("Plan CA", ca=True)
    leaf = issue("mqtt.example.com", issuer=ca, dns=("mqtt.example.com",))
    other = issue("old.example.com", issuer=ca, dns=("old.example.com",))
    client_ca = issue("Plan Client CA", ca=True)
    return {
        "cert": leaf.cert_pem,
        "chain": pem(ca),
        "key": key_pem(leaf.key, "pkcs1"),
        "client_ca": client_ca.cert_pem,
        "expire": leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "other": other.cert_pem,
    }


def desired_of(material: dict[str, Any], tls_type: str = "one-way") -> Desired:
    return build_desired(
        tls_type=tls_type,
        certificate=material["cert"],
        chain=material["chain"],
        private_key=material["key"],
        client_ca=material["client_ca"],
    )


def provider(transport: Recorded, api_profile: str, generic: GenericSpec | None = None, dep: str = "dep1") -> Provider:
    client = Client(
        transport,
        auth_headers=auth_headers("basic", "key1", SECRET),
        retry=RetryPolicy(retries=2, backoff=0.0, sleep=lambda _seconds: None),
        secrets=(SECRET,),
    )
    return make_provider(client, api_url=API, deployment_id=dep, api_profile=api_profile, generic=generic)


def no_sleep(_seconds: float) -> None:
    return None


# --------------------------------------------------------------------------- emqx-cloud

TLS = "/deployments/dep1/tls"


def test_cloud_capabilities_say_it_cannot_read_the_certificate_back() -> None:
    caps = provider(Recorded(), "emqx-cloud").capabilities
    assert (caps.read, caps.status, caps.cn, caps.expiry, caps.pem, caps.fingerprint) == (
        True,
        True,
        True,
        True,
        False,
        False,
    )


def test_cloud_create_check_mode_writes_nothing_then_apply_posts_once(material: dict[str, Any]) -> None:
    desired = desired_of(material)
    recorded = Recorded(("GET", TLS, 404, {"message": "no TLS"}))
    cloud = provider(recorded, "emqx-cloud")
    change = plan(desired, cloud.read(), cloud.capabilities)
    assert (change.action, change.reasons) == ("create", ["no TLS configuration on the deployment"])

    predicted = apply(cloud, change, check_mode=True)
    assert (predicted.changed, predicted.applied, predicted.failed) == (True, NOT_APPLIED, False)
    assert recorded.done() == [("GET", TLS)]  # check mode: the read, no write

    running = {"tlsType": "one-way", "cn": "mqtt.example.com", "expire": material["expire"], "status": "running"}
    recorded.answers = [("POST", TLS, 200, {**running, "status": "pending"}), ("GET", TLS, 200, running)]
    outcome = apply(cloud, change, sleep=no_sleep)
    assert (outcome.changed, outcome.applied, outcome.failed) == (True, APPLIED, False)
    assert outcome.result["after"]["status"] == "running"
    assert recorded.done()[-2:] == [("POST", TLS), ("GET", TLS)]
    sent = recorded.bodies[-2]
    assert sent["tlsType"] == "one-way" and sent["cert"].count("BEGIN CERTIFICATE") == 2 and "cacert" not in sent


def test_cloud_same_configuration_plans_nothing_and_apply_makes_no_request(material: dict[str, Any]) -> None:
    same = {"tlsType": "one-way", "cn": "mqtt.example.com", "expire": material["expire"], "status": "running"}
    recorded = Recorded(("GET", TLS, 200, same))
    cloud = provider(recorded, "emqx-cloud")
    change = plan(desired_of(material), cloud.read(), cloud.capabilities)
    assert (change.action, change.reasons) == ("none", [])
    outcome = apply(cloud, change)
    assert (outcome.changed, outcome.applied) == (False, NOT_APPLIED)
    assert recorded.done() == [("GET", TLS)]


def test_cloud_switch_to_two_way_is_an_update_with_its_reason(material: dict[str, Any]) -> None:
    one_way = {"tlsType": "one-way", "cn": "mqtt.example.com", "expire": material["expire"], "status": "running"}
    two_way = {**one_way, "tlsType": "two-way", "status": "pending"}
    # without wait, the state is read once after the write (the result's ``after``)
    recorded = Recorded(("GET", TLS, 200, one_way), ("PUT", TLS, 200, None), ("GET", TLS, 200, two_way))
    cloud = provider(recorded, "emqx-cloud")
    change = plan(desired_of(material, "two-way"), cloud.read(), cloud.capabilities)
    assert (change.action, change.reasons) == ("update", ["tlsType: one-way -> two-way"])
    outcome = apply(cloud, change, wait=False)
    assert (outcome.applied, outcome.result["after"]["tls_type"]) == (APPLIED, "two-way")
    assert recorded.done()[1] == ("PUT", TLS)
    assert recorded.bodies[1]["cacert"].startswith("-----BEGIN CERTIFICATE-----")


def test_cloud_refusal_is_not_applied_and_says_what_the_deployment_keeps(material: dict[str, Any]) -> None:
    old = {"tlsType": "one-way", "cn": "old.example.com", "expire": "2027-01-01T00:00:00Z", "status": "running"}
    recorded = Recorded(("GET", TLS, 200, old), ("PUT", TLS, 422, {"message": "key does not match"}))
    cloud = provider(recorded, "emqx-cloud")
    change = plan(desired_of(material), cloud.read(), cloud.capabilities)
    outcome = apply(cloud, change)
    assert (outcome.failed, outcome.applied, outcome.result["applied"]) == (True, NOT_APPLIED, False)
    assert "422 the service rejected the certificate: key does not match" in (outcome.message or "")
    assert "Nothing was applied: the deployment keeps its previous configuration (one-way, cn=old.example.com" in (
        outcome.message or ""
    )
    recorded.done()


def test_cloud_lost_answer_read_back_as_landed_is_applied_without_a_second_write(material: dict[str, Any]) -> None:
    new = {"tlsType": "one-way", "cn": "mqtt.example.com", "expire": material["expire"], "status": "running"}
    recorded = Recorded(
        ("GET", TLS, 404, None),
        ("POST", TLS, None, None),  # the answer is lost
        ("GET", TLS, 200, new),  # before repeating, the engine reads: it landed
        ("GET", TLS, 200, new),  # wait until running
    )
    cloud = provider(recorded, "emqx-cloud")
    outcome = apply(cloud, plan(desired_of(material), cloud.read(), cloud.capabilities), sleep=no_sleep)
    assert (outcome.failed, outcome.applied) == (False, APPLIED)
    assert [m for m, _path in recorded.done()].count("POST") == 1


def test_cloud_delete_plans_only_when_there_is_something(material: dict[str, Any]) -> None:
    recorded = Recorded(("GET", TLS, 404, None))
    outcome = remove(provider(recorded, "emqx-cloud"))
    assert (outcome.changed, outcome.applied, outcome.result["differences"]) == (False, NOT_APPLIED, [])
    assert recorded.done() == [("GET", TLS)]

    present = {"tlsType": "one-way", "cn": "mqtt.example.com", "expire": material["expire"], "status": "running"}
    recorded = Recorded(("GET", TLS, 200, present))
    predicted = remove(provider(recorded, "emqx-cloud"), check_mode=True)
    assert (predicted.changed, predicted.applied) == (True, NOT_APPLIED)
    assert "disconnects every client on 8883 (mqtts) and 8084 (wss)" in predicted.warnings[0]
    assert recorded.done() == [("GET", TLS)]

    recorded = Recorded(("GET", TLS, 200, present), ("DELETE", TLS, 204, None))
    outcome = remove(provider(recorded, "emqx-cloud"))
    assert (outcome.changed, outcome.applied, outcome.result["differences"]) == (
        True,
        APPLIED,
        ["TLS configuration present -> absent"],
    )
    recorded.done()


def test_push_stops_at_the_policy_before_any_request(material: dict[str, Any]) -> None:
    recorded = Recorded()
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = issue(
        "mqtt.example.com",
        dns=("mqtt.example.com",),
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    outcome = push(
        provider(recorded, "emqx-cloud"),
        Material("one-way", expired.cert_pem, private_key=key_pem(expired.key, "pkcs1")),
        policy=load_policy(profile="seed", discover=False),
    )
    assert outcome.failed and "nothing was sent to the deployment" in (outcome.message or "")
    assert "cert.validity" in (outcome.message or "")
    assert recorded.done() == []


# --------------------------------------------------------------------------- emqx5-listener

LISTENER = "/listeners/ssl:default"


def test_emqx5_reads_the_pem_back_and_compares_fingerprints(material: dict[str, Any]) -> None:
    same = {"ssl_options": {"certfile": material["cert"].decode(), "verify": "verify_none"}}
    recorded = Recorded(("GET", LISTENER, 200, same))
    listener = provider(recorded, "emqx5-listener", dep="")
    caps = listener.capabilities
    assert (caps.read, caps.pem, caps.fingerprint, caps.status) == (True, True, True, False)
    change = plan(desired_of(material), listener.read(), caps)
    assert change.action == "none"

    other = {"ssl_options": {"certfile": material["other"].decode(), "verify": "verify_none"}}
    recorded = Recorded(("GET", LISTENER, 200, other), ("PUT", LISTENER, 200, {}), ("GET", LISTENER, 200, same))
    listener = provider(recorded, "emqx5-listener", dep="")
    change = plan(desired_of(material), listener.read(), listener.capabilities)
    assert (change.action, change.reasons) == (
        "update",
        ["certificate: another certificate is configured (fingerprint differs)"],
    )
    outcome = apply(listener, change, wait=False)
    assert outcome.applied == APPLIED
    assert recorded.bodies[1]["ssl_options"]["verify"] == "verify_none"
    assert "cacertfile" not in recorded.bodies[1]["ssl_options"]  # one-way: no client CA sent
    recorded.done()


# --------------------------------------------------------------------------- generic

KONG = GenericSpec(url_template="{api_url}/certificates/{deployment_id}", body_template={"cert": "{leaf}"})


def test_generic_without_a_read_url_always_writes_and_a_lost_answer_is_unknown(material: dict[str, Any]) -> None:
    recorded = Recorded()
    gateway = provider(recorded, "generic", KONG, dep="c1")
    assert gateway.capabilities.read is False
    observed = gateway.read()  # nothing to ask: no request
    change = plan(desired_of(material), observed, gateway.capabilities)
    assert change.action == "update" and "cannot be read back" in change.reasons[0]
    recorded.answers = [("PUT", "/certificates/c1", None, None)] * 3
    outcome = apply(gateway, change, sleep=no_sleep)
    assert (outcome.failed, outcome.applied, outcome.result["outcome"]) == (True, UNKNOWN, UNKNOWN)
    assert "It is unknown whether the write was applied" in (outcome.message or "")
    assert recorded.done() == [("PUT", "/certificates/c1")] * 3


def test_generic_with_a_read_url_is_idempotent(material: dict[str, Any]) -> None:
    spec = GenericSpec(
        url_template="{api_url}/certificates/{deployment_id}",
        get_url_template="{api_url}/certificates/{deployment_id}",
        body_template={"cert": "{leaf}", "key": "{key}"},
    )
    recorded = Recorded(("GET", "/certificates/c1", 200, {"cert": material["cert"].decode(), "key": "[hidden]"}))
    gateway = provider(recorded, "generic", spec, dep="c1")
    outcome = apply(gateway, plan(desired_of(material), gateway.read(), gateway.capabilities))
    assert (outcome.changed, outcome.applied) == (False, NOT_APPLIED)
    assert recorded.done() == [("GET", "/certificates/c1")]
    assert SECRET not in json.dumps(outcome.result)
