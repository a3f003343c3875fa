# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tls_config and tls_config_info share: the connection options and the Ansible transport.

The engine's API client (``certhygiene/api.py``) knows no Ansible; this file gives
it a transport built on ``ansible.module_utils.urls.open_url``.
"""

from __future__ import annotations

import json
from typing import Any

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

from .certhygiene.providers import API_PROFILES, GenericSpec, Provider, make_provider
from .certhygiene.push import EndpointSpec
from .certhygiene.transport import (
    AUTH_STYLES,
    ApiError,
    Client,
    RetryPolicy,
    TransportError,
    auth_headers,
    opener_transport,
)

# Options both modules take (documented in the deployment_api doc fragment).
CONNECTION_ARGS: dict[str, Any] = {
    "api_url": {"type": "str", "required": True},
    "api_key": {"type": "str", "no_log": True},
    "api_secret": {"type": "str", "no_log": True},
    "deployment_id": {"type": "str"},
    "api_profile": {"type": "str", "default": "emqx-cloud", "choices": list(API_PROFILES)},
    "auth_style": {"type": "str", "default": "basic", "choices": list(AUTH_STYLES)},
    "auth_header": {"type": "str", "default": "apikey"},
    "headers": {"type": "dict", "default": {}},
    "method": {"type": "str", "default": "PUT"},
    "url_template": {"type": "str"},
    "get_url_template": {"type": "str"},
    "delete_url_template": {"type": "str"},
    "delete_method": {"type": "str", "default": "DELETE"},
    "body_template": {"type": "raw"},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "timeout": {"type": "float", "default": 30.0},
    "retries": {"type": "int", "default": 5},
    "retry_delay": {"type": "float", "default": 1.0},
    "verify_endpoint": {
        "type": "dict",
        "options": {
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 8883},
            "server_name": {"type": "str"},
            "timeout": {"type": "float", "default": 10.0},
        },
    },
}


def ansible_transport(validate_certs: bool, ca_path: str | None) -> Any:
    def opener(method: str, url: str, headers: Any, body: bytes | None, timeout: float) -> Any:
        try:
            return open_url(
                url,
                data=body,
                headers=dict(headers),
                method=method,
                timeout=timeout,
                validate_certs=validate_certs,
                ca_path=ca_path,
                follow_redirects="safe",
                force_basic_auth=False,
            )
        except SSLValidationError as exc:
            raise TransportError("tls", str(exc).splitlines()[0][:300]) from None
        except UrlsConnectionError as exc:
            raise TransportError("other", str(exc).splitlines()[0][:300]) from None

    return opener_transport(opener)


def endpoint_spec(module: Any) -> EndpointSpec | None:
    """The module's ``verify_endpoint``, for the engine."""
    endpoint = module.params.get("verify_endpoint")
    if not endpoint:
        return None
    return EndpointSpec(endpoint["host"], endpoint["port"], endpoint.get("server_name"), endpoint["timeout"])


def build_deployment(module: Any) -> Provider:
    """The engine's provider for the module's options; fail_json on bad options."""
    params = module.params
    profile = params["api_profile"]
    generic = None
    if profile == "generic":
        if not params.get("url_template"):
            module.fail_json(msg="api_profile=generic needs url_template (and body_template for state=present)")
        body = params.get("body_template")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError as exc:
                module.fail_json(msg=f"body_template is not valid JSON: {exc}")
        generic = GenericSpec(
            url_template=params["url_template"],
            body_template=body,
            method=params["method"],
            get_url_template=params.get("get_url_template"),
            delete_url_template=params.get("delete_url_template"),
            delete_method=params["delete_method"],
        )
    if profile == "emqx-cloud" and not params.get("deployment_id"):
        module.fail_json(msg="deployment_id is required with api_profile=emqx-cloud")
    try:
        headers = auth_headers(
            params["auth_style"], params.get("api_key"), params.get("api_secret"), params["auth_header"]
        )
    except ApiError as exc:
        module.fail_json(msg=exc.message)
    retry = RetryPolicy(retries=max(0, params["retries"]), backoff=max(0.0, params["retry_delay"]))
    client = Client(
        ansible_transport(params["validate_certs"], params.get("ca_path")),
        auth_headers=headers,
        headers={str(k): str(v) for k, v in (params.get("headers") or {}).items()},
        timeout=params["timeout"],
        retry=retry,
        secrets=tuple(s for s in (params.get("api_secret"), params.get("api_key")) if s),
    )
    try:
        return make_provider(
            client,
            api_url=params["api_url"],
            deployment_id=params.get("deployment_id") or "",
            api_profile=profile,
            generic=generic,
        )
    except ApiError as exc:
        module.fail_json(msg=exc.message)
        raise  # unreachable: fail_json exits
