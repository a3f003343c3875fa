"""tls_config's other profiles against a loopback HTTP server that records the requests (real ansible-playbook runs).

- a Kong-like gateway (generic profile): PUT /certificates/{id} {cert, cert_alt, key, snis} with an ``apikey`` header;
- an EMQX 5 listener-like API (emqx5-listener profile): PUT /api/v5/listeners/ssl:default with inline PEM in
  ``ssl_options``, bearer or basic auth.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from support.ansible import run_playbook
from support.sandbox import SandboxPKI
from werkzeug import Request, Response

pytestmark = pytest.mark.integration

TOKEN = "bearer-token-0123456789abcdef"
KONG_KEY = "kong-admin-key-0123456789"
CERT_ID = "2e3f1c5a-8d5e-4a8e-9a53-6d1a0b7c9e11"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    return SandboxPKI(tmp_path_factory.mktemp("pki"))


def material(pki: SandboxPKI, two_way: bool = False) -> dict[str, Any]:
    args = {
        "certificate_path": pki.path("server.pem"),
        "certificate_chain_path": pki.path("ca.pem"),
        "private_key_path": pki.path("server.key"),
        "retry_delay": 0.1,
    }
    if two_way:
        args.update(auth_type="two-way", client_ca_certificate_path=pki.path("client-ca.pem"))
    return args


def run(tmp_path: Path, args: dict[str, Any], **kwargs: Any) -> Any:
    plays = [
        {"hosts": "localhost", "gather_facts": False, "tasks": [{"certhygiene.tls.tls_config": args, "register": "r"}]}
    ]
    return run_playbook(tmp_path, plays, **kwargs)


class Kong:
    """Just enough of Kong's admin API: PUT/GET/DELETE /certificates/{id}, the ``apikey`` header required."""

    def __init__(self, server: HTTPServer) -> None:
        self.stored: dict[str, Any] | None = None
        server.expect_request(f"/certificates/{CERT_ID}").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        if request.headers.get("apikey") != KONG_KEY:
            return Response(json.dumps({"message": "Invalid authentication credentials"}), 401)
        if request.method == "GET":
            if self.stored is None:
                return Response(json.dumps({"message": "Not found"}), 404)
            public = {k: v for k, v in self.stored.items() if k != "key"}
            return Response(json.dumps({"id": CERT_ID, **public}), 200, content_type="application/json")
        if request.method == "PUT":
            self.stored = request.get_json()
            return Response(json.dumps({"id": CERT_ID}), 200, content_type="application/json")
        if request.method == "DELETE":
            found, self.stored = self.stored is not None, None
            return Response("", 204 if found else 404)
        return Response("", 405)


def kong_args(server: HTTPServer, pki: SandboxPKI, **extra: Any) -> dict[str, Any]:
    args = {
        "api_profile": "generic",
        "api_url": server.url_for("").rstrip("/"),
        "deployment_id": CERT_ID,
        "auth_style": "header",
        "auth_header": "apikey",
        "api_secret": KONG_KEY,
        "method": "PUT",
        "url_template": "{api_url}/certificates/{deployment_id}",
        "get_url_template": "{api_url}/certificates/{deployment_id}",
        "body_template": {
            "cert": "{leaf}",
            "cert_alt": "{chain}",
            "key": "{key}",
            "snis": "{dns_names}",
            "tags": ["certhygiene", "{tls_type}"],
        },
        **material(pki),
    }
    args.update(extra)
    return args


def test_kong_like_gateway(tmp_path: Path, httpserver: HTTPServer, pki: SandboxPKI) -> None:
    kong = Kong(httpserver)
    first = run(tmp_path / "first", kong_args(httpserver, pki), diff=True)
    assert first.returncode == 0, first.output
    assert first.changed == 1
    writes = [req for req, _unused in httpserver.log if req.method == "PUT"]
    assert len(writes) == 1
    body = writes[0].get_json()
    assert body == {
        "cert": pki.leaf_pem.decode(),
        "cert_alt": pki.ca_pem.decode(),
        "key": pki.key_pem.decode(),
        "snis": ["localhost"],
        "tags": ["certhygiene", "one-way"],
    }
    assert writes[0].headers["apikey"] == KONG_KEY
    assert KONG_KEY not in first.output and "PRIVATE KEY" not in first.output

    # The gateway returns the certificate on GET: the second run compares fingerprints and writes nothing.
    second = run(tmp_path / "second", kong_args(httpserver, pki))
    assert second.returncode == 0, second.output
    assert second.changed == 0
    assert len([req for req, _unused in httpserver.log if req.method == "PUT"]) == 1

    absent = run(tmp_path / "absent", kong_args(httpserver, pki, state="absent"))
    assert absent.returncode == 0 and absent.changed == 1, absent.output
    assert kong.stored is None
    again = run(tmp_path / "again", kong_args(httpserver, pki, state="absent"))
    assert again.returncode == 0 and again.changed == 0, again.output
    assert [req.method for req, _unused in httpserver.log].count("DELETE") == 1


class Emqx5:
    """EMQX 5's listener API as far as TLS goes: the PEM pushed inline comes back as file paths on GET."""

    def __init__(self, server: HTTPServer, auth: str) -> None:
        self.auth = auth
        self.options: dict[str, Any] = {"certfile": "${EMQX_ETC_DIR}/certs/cert.pem", "verify": "verify_none"}
        server.expect_request("/api/v5/listeners/ssl:default").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != self.auth:
            return Response(json.dumps({"code": "BAD_API_KEY_OR_SECRET"}), 401)
        if request.method == "GET":
            return Response(
                json.dumps({"id": "ssl:default", "type": "ssl", "ssl_options": self.options}),
                200,
                content_type="application/json",
            )
        if request.method == "PUT":
            pushed = request.get_json()["ssl_options"]
            self.options = {
                "certfile": "data/certs/cert-0123.pem",  # EMQX stores inline PEM in files
                "verify": pushed["verify"],
            }
            return Response(json.dumps({"id": "ssl:default"}), 200, content_type="application/json")
        return Response("", 405)


def test_emqx5_listener_bearer_two_way(tmp_path: Path, httpserver: HTTPServer, pki: SandboxPKI) -> None:
    Emqx5(httpserver, f"Bearer {TOKEN}")
    args = {
        "api_profile": "emqx5-listener",
        "api_url": httpserver.url_for("/api/v5"),
        "auth_style": "bearer",
        "api_secret": TOKEN,
        **material(pki, two_way=True),
    }
    result = run(tmp_path, args)
    assert result.returncode == 0, result.output
    assert result.changed == 1
    (request,) = [req for req, _unused in httpserver.log if req.method == "PUT"]
    assert request.path == "/api/v5/listeners/ssl:default"
    assert request.get_json() == {
        "ssl_options": {
            "certfile": pki.leaf_pem.decode() + pki.ca_pem.decode(),
            "keyfile": pki.key_pem.decode(),
            "cacertfile": pki.client_ca_pem.decode(),
            "verify": "verify_peer",
            "fail_if_no_peer_cert": True,
        }
    }
    assert TOKEN not in result.output


def test_emqx5_listener_basic_one_way_with_inline_pem_readback(
    tmp_path: Path, httpserver: HTTPServer, pki: SandboxPKI
) -> None:
    basic = "Basic " + base64.b64encode(b"key1:secret-0123456789").decode()
    emqx = Emqx5(httpserver, basic)
    args = {
        "api_profile": "emqx5-listener",
        "api_url": httpserver.url_for("/api/v5"),
        "api_key": "key1",
        "api_secret": "secret-0123456789",
        **material(pki),
    }
    first = run(tmp_path / "first", args)
    assert first.returncode == 0 and first.changed == 1, first.output
    body = next(req for req, _unused in httpserver.log if req.method == "PUT").get_json()
    assert body["ssl_options"]["verify"] == "verify_none" and body["ssl_options"]["fail_if_no_peer_cert"] is False
    assert "cacertfile" not in body["ssl_options"]  # one-way: no client CA

    # A listener that reports its certificate inline lets the module see it already has ours.
    emqx.options = {"certfile": pki.cert_with_chain.decode(), "verify": "verify_none"}
    second = run(tmp_path / "second", args)
    assert second.returncode == 0 and second.changed == 0, second.output
    assert len([req for req, _unused in httpserver.log if req.method == "PUT"]) == 1
