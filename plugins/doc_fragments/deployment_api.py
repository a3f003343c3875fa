# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by the modules that talk to a deployment's TLS API."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the deployment API.
      - For O(api_profile=emqx-cloud), the platform API root, for example C(https://cloud.example.com/public_api/v1)
        (the local sandbox prints its own, C(http://127.0.0.1:18083/public_api/v1)).
      - For O(api_profile=emqx5-listener), the EMQX 5 API root, for example C(http://broker:18083/api/v5).
      - For O(api_profile=generic), the value of the C({api_url}) placeholder of the URL templates.
    type: str
    required: true
  api_key:
    description:
      - API key. With O(auth_style=basic) the user name of HTTP Basic auth.
    type: str
  api_secret:
    description:
      - API secret. With O(auth_style=basic) the password of HTTP Basic auth; with O(auth_style=bearer)
        the bearer token; with O(auth_style=header) the value of the O(auth_header) header.
      - Never logged, never returned, removed from error messages.
    type: str
  deployment_id:
    description:
      - The deployment whose TLS configuration is managed. Required for O(api_profile=emqx-cloud).
      - For O(api_profile=emqx5-listener), the listener id (default C(ssl:default)).
      - For O(api_profile=generic), the value of the C({deployment_id}) placeholder.
    type: str
  api_profile:
    description:
      - The API dialect, that is the service the API belongs to (not the policy profile, which is O(certhygiene.tls.tls_config#module:profile)).
      - V(emqx-cloud) is the cloud's platform API
        (C(GET|POST|PUT|DELETE {api_url}/deployments/{deployment_id}/tls), body C({tlsType, cert, key, cacert})).
      - V(emqx5-listener) is EMQX 5's listener API (C(PUT {api_url}/listeners/{deployment_id}) with the full chain,
        key and client CA as inline PEM in C(ssl_options); C(GET) on the same URL to compare).
      - V(generic) describes any other service with O(method), O(url_template), O(body_template),
        O(get_url_template), O(delete_url_template) and O(delete_method).
    type: str
    default: emqx-cloud
    choices: [emqx-cloud, emqx5-listener, generic]
  auth_style:
    description:
      - How requests authenticate. V(basic) is HTTP Basic with O(api_key) and O(api_secret);
        V(bearer) sends O(api_secret) as a bearer token (C(Authorization) header); V(header) sends O(api_secret) in the O(auth_header)
        header (Kong's C(apikey), for example); V(none) sends no credentials.
    type: str
    default: basic
    choices: [basic, bearer, header, none]
  auth_header:
    description:
      - Header name for O(auth_style=header).
    type: str
    default: apikey
  headers:
    description:
      - Extra HTTP headers sent with every request.
    type: dict
    default: {}
  method:
    description:
      - O(api_profile=generic) only. HTTP method of the write.
    type: str
    default: PUT
  url_template:
    description:
      - O(api_profile=generic) only. URL of the write; placeholders C({api_url}) and C({deployment_id}).
    type: str
  get_url_template:
    description:
      - O(api_profile=generic) only. URL that reads the current configuration (404 means none).
        When the answer holds a PEM certificate anywhere, its fingerprint is compared with the leaf's.
      - Without it (and without O(verify_endpoint)) the module cannot tell what is configured and always writes.
    type: str
  delete_url_template:
    description:
      - O(api_profile=generic) only. URL that deletes the configuration (C(state=absent) of M(certhygiene.tls.tls_config)).
      - Defaults to O(get_url_template), then O(url_template).
    type: str
  delete_method:
    description:
      - O(api_profile=generic) only. HTTP method that deletes the configuration.
    type: str
    default: DELETE
  body_template:
    description:
      - O(api_profile=generic) only. JSON body of the write, as a mapping or a JSON string.
      - >-
        In every string, C({leaf}), C({chain}), C({fullchain}) (leaf then chain), C({key}), C({client_ca}), C({tls_type}),
        C({cn}), C({verify}) (C(verify_peer) or C(verify_none)), C({deployment_id}) and C({api_url}) are replaced.
      - >-
        A string that is exactly one placeholder takes the value's own JSON type, so C({two_way}) gives a boolean and
        C({dns_names}), C({ip_addresses}) and C({sans}) give lists. A key whose value is exactly a placeholder
        with no value (C({client_ca}) for one-way TLS) is left out.
      - Single braces are not Jinja2, so templates pass through Ansible untouched.
    type: raw
  validate_certs:
    description:
      - Verify the API's own TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle that verifies the API's own TLS certificate.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP answer. A timeout counts as a failure that is retried.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is repeated after a 429, a 5xx answer, a reset connection or a timeout.
      - 429 waits for C(Retry-After); the others back off exponentially from O(retry_delay), up to 30 seconds.
      - Before a write is repeated after an answer that leaves its outcome unknown, the current state is read again,
        so a write that did land is not made twice.
    type: int
    default: 5
  retry_delay:
    description:
      - First backoff delay in seconds (doubled on each retry).
    type: float
    default: 1
  verify_endpoint:
    description:
      - The TLS endpoint of the deployment (its mqtts address). When given, the certificate it presents is compared with
        the leaf too, so a configuration with the same CN and expiry but another certificate is detected.
      - The handshake reads the certificate and does not verify it.
    type: dict
    suboptions:
      host:
        description: Host name or address.
        type: str
        required: true
      port:
        description: TLS port (mqtts).
        type: int
        default: 8883
      server_name:
        description: SNI name to send; defaults to O(verify_endpoint.host).
        type: str
      timeout:
        description: Seconds for the TLS handshake.
        type: float
        default: 10
requirements:
  - cryptography >= 3.4.8 on the managed node (tested with 3.4.8, 36, 38, 41, 43 and the newest release)
"""
