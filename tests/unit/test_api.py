"""The deployment API client over real HTTP on loopback: retries, backoff, profiles, comparison, redaction."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from certhygiene.api import (
    ApiError,
    Client,
    Deployment,
    GenericSpec,
    Observed,
    RetryPolicy,
    TransportError,
    auth_headers,
    build_desired,
    differences,
    parse_expire,
    redact,
    retry_after_seconds,
    stdlib_transport,
)
from pytest_httpserver import HTTPServer
from support.pki import issue, key_pem, pem
from werkzeug import Request, Response

SECRET = "s3cr3t-api-secret-value"
PATH = "/public_api/v1/deployments/dep1/tls"


class Sleeps(list[float]):
    """A sleep that records the delays asked for and waits only a little (real time, no timing asserted)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture(scope="module")
def material() -> dict[str, bytes]:
    ca = issue("Test CA", ca=True)
    leaf = issue("mqtt.example.com", issuer=ca, dns=("mqtt.example.com",), ips=("127.0.0.1",))
    client_ca = issue("Client CA", ca=True)
    return {
        "cert": leaf.cert_pem,
        "chain": pem(ca),
        "key": key_pem(leaf.key, "pkcs1"),
        "client_ca": client_ca.cert_pem,
        "expire": leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ").encode(),
    }


def make_client(sleeps: Sleeps | None = None, *, retries: int = 3, timeout: float = 5.0) -> Client:
    return Client(
        stdlib_transport(),
        auth_headers=auth_headers("basic", "key1", SECRET),
        timeout=timeout,
        retry=RetryPolicy(
            retries=retries,
            backoff=0.05,
            max_backoff=1.0,
            max_retry_after=5.0,
            sleep=sleeps if sleeps is not None else Sleeps(),
        ),
        secrets=(SECRET,),
    )


def cloud(httpserver: HTTPServer, client: Client) -> Deployment:
    return Deployment(client, api_url=httpserver.url_for("/public_api/v1"), deployment_id="dep1")


def sequence(*responses: Response) -> callable:  # type: ignore[valid-type]
    """A handler answering with ``responses`` in turn (the last one repeats)."""
    answers = list(responses)
    calls: list[Request] = []

    def handler(request: Request) -> Response:
        calls.append(request)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    handler.calls = calls  # type: ignore[attr-defined]
    return handler


def js(status: int, body: object | None = None, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body) if body is not None else "", status=status, headers=headers, content_type="application/json"
    )


# --------------------------------------------------------------------------- retries


def test_5xx_is_retried_with_exponential_backoff(httpserver: HTTPServer) -> None:
    handler = sequence(js(500, {"message": "boom"}), js(503), js(200, {"tlsType": "one-way", "status": "running"}))
    httpserver.expect_request(PATH, method="GET").respond_with_handler(handler)
    sleeps = Sleeps()
    response = make_client(sleeps).request("GET", httpserver.url_for(PATH))
    assert response.status == 200 and response.attempts == 3
    assert sleeps == [0.05, 0.1]


def test_429_honours_retry_after_seconds(httpserver: HTTPServer) -> None:
    handler = sequence(js(429, {"message": "slow down"}, {"Retry-After": "2"}), js(200, {}))
    httpserver.expect_request(PATH).respond_with_handler(handler)
    sleeps = Sleeps()
    assert make_client(sleeps).request("GET", httpserver.url_for(PATH)).status == 200
    assert sleeps == [2.0]


def test_429_with_a_retry_after_beyond_the_limit_fails_at_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"message": "6 writes an hour"}, status=429, headers={"Retry-After": "3600"}
    )
    sleeps = Sleeps()
    with pytest.raises(ApiError, match=r"retry after 3600 s, more than the 5 s"):
        make_client(sleeps).request("PUT", httpserver.url_for(PATH), {"tlsType": "one-way"})
    assert sleeps == []


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:40 GMT", now=now) == pytest.approx(20.0)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None


def test_retries_give_up_with_a_clear_message(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"message": "database down"}, status=502)
    sleeps = Sleeps()
    with pytest.raises(ApiError) as caught:
        make_client(sleeps, retries=2).request("GET", httpserver.url_for(PATH))
    assert "no success after 3 attempt(s); last: 502 database down" in caught.value.message
    assert sleeps == [0.05, 0.1]


def test_a_timeout_is_retried(httpserver: HTTPServer) -> None:
    answers = iter([0.6, 0.0])

    def handler(request: Request) -> Response:
        time.sleep(next(answers, 0.0))
        return js(200, {"ok": True})

    httpserver.expect_request(PATH).respond_with_handler(handler)
    client = make_client(timeout=0.3)
    response = client.request("GET", httpserver.url_for(PATH))
    assert response.status == 200 and response.attempts == 2
    assert client.log[0]["error"] == "timeout"


@pytest.fixture
def dropping_server() -> Iterator[tuple[str, list[int]]]:
    """A server that accepts and closes the first N connections, then answers 200 {}."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    drops = [2]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _unused = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                if drops[0] > 0:
                    drops[0] -= 1
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    continue
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                    b"Connection: close\r\n\r\n{}"
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/x", drops
    stop.set()
    thread.join()
    listener.close()


def test_a_dropped_connection_is_retried(dropping_server: tuple[str, list[int]]) -> None:
    url, drops = dropping_server
    client = make_client()
    assert client.request("GET", url).status == 200
    assert [e.get("error") for e in client.log] == ["reset", "reset", None]
    assert drops == [0]


def test_connection_refused_is_reported(free_port: int) -> None:
    with pytest.raises(ApiError, match=r"last: refused"):
        make_client(retries=1).request("GET", f"http://127.0.0.1:{free_port}/x")


def test_transport_error_kinds(free_port: int) -> None:
    with pytest.raises(TransportError) as caught:
        stdlib_transport()("GET", f"http://127.0.0.1:{free_port}/", {}, None, 1.0)
    assert caught.value.kind == "refused"


# --------------------------------------------------------------------------- the emqx-cloud profile


def test_push_creates_with_post_then_updates_with_put(httpserver: HTTPServer, material: dict[str, bytes]) -> None:
    desired = build_desired(
        tls_type="one-way", certificate=material["cert"], chain=material["chain"], private_key=material["key"]
    )
    httpserver.expect_ordered_request(PATH, method="GET").respond_with_json(
        {"code": 404, "message": "no TLS"}, status=404
    )
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_json({"status": "pending"})
    deployment = cloud(httpserver, make_client())
    observed = deployment.read()
    assert not observed.present
    assert differences(desired, observed) == ["no TLS configuration on the deployment"]
    deployment.write(desired, observed)
    request, _unused = httpserver.log[-1]
    body = request.get_json()
    assert body["tlsType"] == "one-way"
    assert body["cert"] == material["cert"].decode() + material["chain"].decode()
    assert "PRIVATE KEY" in body["key"] and "cacert" not in body
    token = base64.b64encode(f"key1:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"

    httpserver.clear()
    httpserver.expect_request(PATH, method="PUT").respond_with_json({"status": "pending"})
    two_way = build_desired(
        tls_type="two-way",
        certificate=material["cert"],
        chain=material["chain"],
        private_key=material["key"],
        client_ca=material["client_ca"],
    )
    deployment.write(two_way, Observed(present=True, tls_type="one-way"))
    body = httpserver.log[-1][0].get_json()
    assert body["tlsType"] == "two-way" and body["cacert"] == material["client_ca"].decode()


def test_same_configuration_means_no_write(material: dict[str, bytes]) -> None:
    desired = build_desired(tls_type="one-way", certificate=material["cert"], private_key=material["key"])
    expire = material["expire"].decode()
    same = Observed(present=True, tls_type="one-way", cn="mqtt.example.com", expire=expire, status="running")
    assert differences(desired, same) == []
    cases = {
        "tlsType: two-way -> one-way": Observed(present=True, tls_type="two-way", cn="mqtt.example.com", expire=expire),
        "cn: old.example.com -> mqtt.example.com": Observed(
            present=True, tls_type="one-way", cn="old.example.com", expire=expire
        ),
        "status: failed": Observed(
            present=True, tls_type="one-way", cn="mqtt.example.com", expire=expire, status="failed"
        ),
    }
    for expected, observed in cases.items():
        assert differences(desired, observed) == [expected]
    older = Observed(present=True, tls_type="one-way", cn="mqtt.example.com", expire="2027-01-01T00:00:00Z")
    assert differences(desired, older)[0].startswith("expire: 2027-01-01T00:00:00Z -> ")
    unknown = Observed(present=True)
    assert "cannot be read back" in differences(desired, unknown)[0]
    endpoint = Observed(
        present=True,
        tls_type="one-way",
        cn="mqtt.example.com",
        expire=expire,
        endpoint_checked=True,
        endpoint_fingerprint="00" * 32,
        endpoint_subject="CN=other",
    )
    assert differences(desired, endpoint) == ["endpoint: presents another certificate (CN=other)"]
    endpoint.endpoint_fingerprint = desired.fingerprint
    assert differences(desired, endpoint) == []


@pytest.mark.parametrize(
    ("value", "iso", "date_only"),
    [
        ("2036-11-26T23:52:34Z", "2036-11-26T23:52:34+00:00", False),
        ("2036-11-26 23:52:34", "2036-11-26T23:52:34+00:00", False),
        ("2036-11-26", "2036-11-26T00:00:00+00:00", True),
        (2111356354, "2036-11-26T23:52:34+00:00", False),
        (2111356354000, "2036-11-26T23:52:34+00:00", False),
        ("2111356354", "2036-11-26T23:52:34+00:00", False),
    ],
)
def test_expire_formats(value: object, iso: str, date_only: bool) -> None:
    parsed = parse_expire(value)
    assert parsed is not None
    assert parsed[0].isoformat() == iso and parsed[1] is date_only


def test_a_retried_write_that_landed_is_not_repeated(httpserver: HTTPServer, material: dict[str, bytes]) -> None:
    """The first PUT answers 500 but was applied: the read before the retry sees it, no second PUT."""
    desired = build_desired(
        tls_type="two-way", certificate=material["cert"], private_key=material["key"], client_ca=material["client_ca"]
    )
    applied = {
        "tlsType": "two-way",
        "cn": "mqtt.example.com",
        "expire": material["expire"].decode(),
        "status": "pending",
    }
    httpserver.expect_request(PATH, method="PUT").respond_with_json({"message": "upstream hiccup"}, status=500)
    httpserver.expect_request(PATH, method="GET").respond_with_json(applied)
    deployment = cloud(httpserver, make_client())
    before = Observed(present=True, tls_type="one-way", cn="mqtt.example.com", expire=applied["expire"])
    response = deployment.write(desired, before)
    assert response.converged
    assert [r.method for r, _unused in httpserver.log] == ["PUT", "GET"]


def test_409_on_create_switches_to_update(httpserver: HTTPServer, material: dict[str, bytes]) -> None:
    desired = build_desired(tls_type="one-way", certificate=material["cert"], private_key=material["key"])
    httpserver.expect_request(PATH, method="POST").respond_with_json({"message": "TLS already configured"}, status=409)
    httpserver.expect_request(PATH, method="PUT").respond_with_json({"status": "pending"})
    cloud(httpserver, make_client()).write(desired, Observed(present=False))
    assert [r.method for r, _unused in httpserver.log] == ["POST", "PUT"]


def test_422_says_what_the_service_found_and_nothing_was_applied(
    httpserver: HTTPServer, material: dict[str, bytes]
) -> None:
    desired = build_desired(tls_type="one-way", certificate=material["cert"], private_key=material["key"])
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        {
            "code": 422,
            "message": "certificate rejected: 1 error(s)",
            "findings": [{"rule_id": "chain.required", "message": "no chain for a CA-signed certificate"}],
        },
        status=422,
    )
    with pytest.raises(ApiError) as caught:
        cloud(httpserver, make_client()).write(desired, Observed(present=False))
    assert caught.value.status == 422 and caught.value.applied is False
    assert "422 the service rejected the certificate" in caught.value.message
    assert "no chain for a CA-signed certificate" in caught.value.message


def test_auth_errors_name_the_credentials(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"message": "bad credentials"}, status=401)
    with pytest.raises(ApiError, match=r"401 authentication failed \(bad credentials\); check api_key and api_secret"):
        cloud(httpserver, make_client()).read()


def test_delete_is_idempotent(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(PATH, method="DELETE").respond_with_data("", status=204)
    httpserver.expect_ordered_request(PATH, method="DELETE").respond_with_json({"message": "no TLS"}, status=404)
    deployment = cloud(httpserver, make_client())
    assert deployment.delete() is True
    assert deployment.delete() is False


def test_wait_running_polls_until_running(httpserver: HTTPServer) -> None:
    handler = sequence(
        js(200, {"tlsType": "one-way", "status": "pending"}), js(200, {"tlsType": "one-way", "status": "running"})
    )
    httpserver.expect_request(PATH).respond_with_handler(handler)
    observed = cloud(httpserver, make_client()).wait_running(10, interval=0.01)
    assert observed.status == "running"


def test_wait_reports_failed(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"tlsType": "one-way", "status": "failed"})
    with pytest.raises(ApiError, match="reports status 'failed'") as caught:
        cloud(httpserver, make_client()).wait_running(10, interval=0.01)
    assert caught.value.applied is True


# --------------------------------------------------------------------------- generic and redaction


def test_generic_body_template(httpserver: HTTPServer, material: dict[str, bytes]) -> None:
    desired = build_desired(
        tls_type="one-way", certificate=material["cert"], chain=material["chain"], private_key=material["key"]
    )
    spec = GenericSpec(
        method="POST",
        url_template="{api_url}/certificates",
        body_template={
            "cert": "{leaf}",
            "cert_alt": "{chain}",
            "key": "{key}",
            "snis": "{dns_names}",
            "ca": "{client_ca}",
            "tags": ["{tls_type}", "cn={cn}"],
            "mutual": "{two_way}",
        },
    )
    client = Client(
        stdlib_transport(), auth_headers=auth_headers("header", None, SECRET, "apikey"), retry=RetryPolicy(retries=0)
    )
    httpserver.expect_request("/certificates", method="POST").respond_with_json({"id": "c1"}, status=201)
    Deployment(client, api_url=httpserver.url_for(""), deployment_id="", profile="generic", generic=spec).write(
        desired, Observed(present=True)
    )
    request, _unused = httpserver.log[-1]
    assert request.headers["apikey"] == SECRET
    assert request.get_json() == {
        "cert": material["cert"].decode(),
        "cert_alt": material["chain"].decode(),
        "key": desired.key_pem,
        "snis": ["mqtt.example.com"],
        "tags": ["one-way", "cn=mqtt.example.com"],
        "mutual": False,
    }


def test_redaction_removes_keys_and_secrets(material: dict[str, bytes]) -> None:
    text = f"echo {SECRET} and " + material["key"].decode()
    cleaned = redact(text, (SECRET,))
    assert SECRET not in cleaned and "PRIVATE KEY" not in cleaned


def test_secret_never_in_error_messages(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"message": f"bad secret {SECRET}"}, status=500)
    with pytest.raises(ApiError) as caught:
        cloud(httpserver, make_client(retries=0)).read()
    assert SECRET not in caught.value.message and "********" in caught.value.message


def test_a_timed_out_write_waits_as_long_again_then_reads_back(
    httpserver: HTTPServer, material: dict[str, bytes]
) -> None:
    """A write that timed out may still land: wait the timeout again, read, and do not repeat it when it did."""
    desired = build_desired(tls_type="one-way", certificate=material["cert"], private_key=material["key"])
    applied = {"tlsType": "one-way", "cn": "mqtt.example.com", "expire": material["expire"].decode()}

    def slow_put(request: Request) -> Response:
        time.sleep(0.5)
        return js(200, {"status": "pending"})

    httpserver.expect_request(PATH, method="PUT").respond_with_handler(slow_put)
    httpserver.expect_request(PATH, method="GET").respond_with_json(applied)
    sleeps = Sleeps()
    deployment = cloud(httpserver, make_client(sleeps, timeout=0.3))
    response = deployment.write(desired, Observed(present=True, tls_type="two-way", cn="mqtt.example.com"))
    assert response.converged
    assert sleeps == [0.3]
    assert [r.method for r, _unused in httpserver.log].count("PUT") == 1
