# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment API client, by the names callers have used since 0.1.

The work lives in four units:

- ``transport``: HTTP transports, retries, auth headers, redaction;
- ``tls_state``: ``Desired``/``Observed`` and how they differ;
- ``providers``: one class per API dialect (emqx-cloud, emqx5-listener, generic) with its capabilities;
- ``push``: plan/apply and the push/delete workflow every door calls.
"""

from __future__ import annotations

from .probe import presented_leaf
from .providers import API_PROFILES, DEFAULT_LISTENER, Capabilities, GenericSpec, Provider, make_provider
from .push import observe_endpoint
from .tls_state import (
    TLS_TYPES,
    Desired,
    Observed,
    build_desired,
    differences,
    parse_expire,
    pem_fingerprint,
    same_expiry,
)
from .transport import (
    AUTH_STYLES,
    ApiError,
    Client,
    Response,
    RetryPolicy,
    Transport,
    TransportError,
    auth_headers,
    opener_transport,
    redact,
    retry_after_seconds,
    stdlib_transport,
)

PROFILES = API_PROFILES


def Deployment(
    client: Client,
    *,
    api_url: str,
    deployment_id: str,
    profile: str = "emqx-cloud",
    generic: GenericSpec | None = None,
) -> Provider:
    """The provider for one deployment (see ``providers.make_provider``)."""
    return make_provider(client, api_url=api_url, deployment_id=deployment_id, api_profile=profile, generic=generic)


__all__ = [
    "API_PROFILES",
    "AUTH_STYLES",
    "DEFAULT_LISTENER",
    "PROFILES",
    "TLS_TYPES",
    "ApiError",
    "Capabilities",
    "Client",
    "Deployment",
    "Desired",
    "GenericSpec",
    "Observed",
    "Provider",
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
    "pem_fingerprint",
    "presented_leaf",
    "redact",
    "retry_after_seconds",
    "same_expiry",
    "stdlib_transport",
]
