#!/usr/bin/python
# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_config
short_description: Push, update or delete a deployment's TLS/SSL configuration
version_added: 0.1.0
description:
  - Automates the seed's "Create a certificate" and "Delete a certificate" steps through the deployment API.
  - Before anything is sent, the certificate, chain, private key and client CA go through the same policy
    as M(certhygiene.tls.certificate_check); an error-severity finding stops the task with the findings and
    B(nothing is sent).
  - Idempotent. The current configuration is read first and a write is made only when something differs
    (the real service allows 6 writes an hour). Since the API never returns the certificate, the module compares
    the TLS type, the CN and the expiry date of the leaf, and, with O(verify_endpoint), the certificate the live
    endpoint presents.
  - Retries 429 (honouring C(Retry-After)), 5xx, reset connections and timeouts with backoff. When it fails it says
    what was applied and what was not.
  - O(state=absent) deletes the configuration. Clients connected on 8883 (mqtts) and 8084 (wss) are disconnected.
author:
  - certhygiene developers (@certhygiene)
extends_documentation_fragment:
  - certhygiene.tls.deployment_api
  - certhygiene.tls.attributes
attributes:
  check_mode:
    support: full
    details: The current configuration is read (GET) in check mode; nothing is written.
  diff_mode:
    support: full
    details: The diff shows TLS type, subject and CN, expiry and fingerprints. Never the key.
options:
  state:
    description:
      - V(present) makes the deployment serve the given certificate; V(absent) deletes its TLS configuration.
    type: str
    default: present
    choices: [present, absent]
  auth_type:
    description:
      - V(one-way) (only clients verify the server) or V(two-way) (the deployment also verifies client certificates
        against O(client_ca_certificate_content)).
    type: str
    default: one-way
    choices: [one-way, two-way]
  certificate_content:
    description:
      - The server certificate, as PEM content. Exactly one of O(certificate_content) and O(certificate_path)
        is required when O(state=present).
      - If it holds more than one certificate the policy stops the task (rule C(bundle.multiple)); split the bundle.
    type: str
    aliases: [certificate]
  certificate_path:
    description:
      - Path of the server certificate (PEM).
    type: path
  chain_content:
    description:
      - The certificate chain (intermediates, without the server certificate), as PEM content.
      - Named C(certificate_chain) before 0.2 (still accepted); C(chain) as in the other modules.
    type: str
    aliases: [chain, certificate_chain]
  chain_path:
    description:
      - Path of the certificate chain.
      - Named C(certificate_chain_path) before 0.2 (still accepted).
    type: path
    aliases: [certificate_chain_path]
  private_key_content:
    description:
      - The unencrypted private key of the certificate, as PEM content. Never logged or returned.
      - Exactly one of O(private_key_content) and O(private_key_path) is required when O(state=present).
    type: str
    aliases: [private_key]
  private_key_path:
    description:
      - Path of the private key.
    type: path
  client_ca_certificate_content:
    description:
      - The CA certificate that signs client certificates, as PEM content.
      - One of O(client_ca_certificate_content) and O(client_ca_certificate_path) is required when O(auth_type=two-way);
        ignored for one-way TLS.
    type: str
    aliases: [client_ca_certificate]
  client_ca_certificate_path:
    description:
      - Path of the client CA certificate.
    type: path
  profile:
    description:
      - Policy profile the material is checked against before it is sent.
      - Defaults to the engine's default (V(seed)) unless O(policy) names another.
    type: str
    choices: [seed, emqx-cloud, strict]
  policy:
    description:
      - Path to a policy file (C(.certhygiene.yaml) format) used instead of, or on top of, O(profile).
    type: path
  wait:
    description:
      - Wait until the deployment reports C(running) after a write (and, with O(verify_endpoint), until the endpoint
        presents the new certificate).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for C(running).
    type: int
    default: 300
notes:
  - The real service allows 6 writes an hour; the module never writes when the deployment already has what is asked.
  - Each item is given either as content or as a path (the C(_path) options), like in M(certhygiene.tls.certificate_check).
  - Certificates are normalised (leaf first, chain after, clean PEM) before they are sent.
seealso:
  - module: certhygiene.tls.tls_config_info
  - module: certhygiene.tls.certificate_check
  - module: certhygiene.tls.tls_probe
requirements:
  - cryptography >= 3.4.8 on the managed node (tested with 3.4.8, 36, 38, 41, 43 and the newest release)
"""

EXAMPLES = r"""
- name: Push one-way TLS to a deployment
  certhygiene.tls.tls_config:
    api_url: https://cloud.example.com/public_api/v1
    api_key: "{{ cloud_api_key }}"
    api_secret: "{{ cloud_api_secret }}"
    deployment_id: d1a2b3c4
    auth_type: one-way
    certificate_path: pki/cloud.crt
    chain_path: pki/chain.crt
    private_key_path: pki/cloud.key
    verify_endpoint:
      host: mqtt.example.com
      port: 8883

- name: Switch to two-way TLS
  certhygiene.tls.tls_config:
    api_url: https://cloud.example.com/public_api/v1
    api_key: "{{ cloud_api_key }}"
    api_secret: "{{ cloud_api_secret }}"
    deployment_id: d1a2b3c4
    auth_type: two-way
    certificate_path: pki/cloud.crt
    private_key_path: pki/cloud.key
    client_ca_certificate_path: pki/client-ca.crt

- name: Delete the TLS configuration (disconnects clients on 8883 and 8084)
  certhygiene.tls.tls_config:
    api_url: https://cloud.example.com/public_api/v1
    api_key: "{{ cloud_api_key }}"
    api_secret: "{{ cloud_api_secret }}"
    deployment_id: d1a2b3c4
    state: absent

- name: EMQX 5 listener
  certhygiene.tls.tls_config:
    api_profile: emqx5-listener
    api_url: http://broker.example.com:18083/api/v5
    api_key: "{{ emqx_api_key }}"
    api_secret: "{{ emqx_api_secret }}"
    certificate_path: pki/cloud.crt
    private_key_path: pki/cloud.key

- name: A Kong-like gateway (generic profile)
  certhygiene.tls.tls_config:
    api_profile: generic
    api_url: http://kong.example.com:8001
    auth_style: header
    auth_header: apikey
    api_secret: "{{ kong_admin_key }}"
    method: PUT
    url_template: "{api_url}/certificates/{deployment_id}"
    get_url_template: "{api_url}/certificates/{deployment_id}"
    deployment_id: 2e3f1c5a-8d5e-4a8e-9a53-6d1a0b7c9e11
    body_template:
      cert: "{leaf}"
      cert_alt: "{chain}"
      key: "{key}"
      snis: "{dns_names}"
    certificate_path: pki/cloud.crt
    private_key_path: pki/cloud.key
"""

RETURN = r"""
changed:
  description: Whether a write (or delete) was made, or would be in check mode.
  returned: always
  type: bool
differences:
  description: Why a write was (or would be) needed; empty when the deployment already had the configuration.
  returned: always
  type: list
  elements: str
  sample: ["tlsType: one-way -> two-way"]
before:
  description: The configuration the deployment reported before the task (public facts only).
  returned: always
  type: dict
  sample: {"present": true, "tls_type": "one-way", "cn": "mqtt.example.com", "expire": "2036-11-26T23:52:34Z",
           "status": "running"}
after:
  description: The configuration after the task, as read back (or as it would be in check mode).
  returned: always
  type: dict
desired:
  description: Public facts of the material pushed (type, CN, subject, expiry, fingerprint, SANs, chain, client CA).
  returned: when O(state=present)
  type: dict
applied:
  description: >-
    Whether a write was applied. V(false) when nothing was sent or the service refused it; returned on failures too,
    together with the previous configuration.
  returned: always
  type: bool
action:
  description: The plan, V(none), V(create), V(update) or V(delete).
  returned: when the configuration could be read
  type: str
  sample: update
outcome:
  description: >-
    What happened to the write, V(applied), V(not applied) (nothing was sent, nothing needed, check mode, or the
    service refused) or V(unknown) (an answer was lost and the API cannot read its state back).
  returned: always
  type: str
  sample: applied
capabilities:
  description: What the API dialect can read back (C(read), C(status), C(cn), C(expiry), C(pem), C(fingerprint)).
  returned: when the configuration could be read
  type: dict
findings:
  description: Findings of the policy check (warnings on success; errors when the task stops before sending).
  returned: when O(state=present)
  type: list
  elements: dict
requests:
  description: The HTTP requests made (method, path, attempt, status or error). Never bodies or headers.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.certhygiene.policy import PolicyError, load_policy
from ..module_utils.certhygiene.push import Material, push, remove
from ..module_utils.deployment_api import CONNECTION_ARGS, build_deployment, endpoint_spec
from ..module_utils.module_inputs import material_declarations, material_options, quiet_library_warnings, read_material
from ..module_utils.module_policy import POLICY_ARGS

ITEMS = ("certificate", "chain", "private_key", "client_ca_certificate")


def _load(module: AnsibleModule, option: str) -> tuple[bytes | None, str]:
    """Bytes and display name of one item, from its content or its ``_path`` option."""
    data, name = read_material(
        module, option + "_content", option + "_path", note="Nothing was sent to the deployment."
    )
    return data, name or option


def main() -> None:
    quiet_library_warnings()
    argument_spec: dict[str, Any] = dict(CONNECTION_ARGS)
    material_spec, constraints = material_declarations(
        material_options("certificate", aliases=("certificate",), required=("state", "present")),
        material_options("chain", aliases=("chain", "certificate_chain"), path_aliases=("certificate_chain_path",)),
        material_options("private_key", aliases=("private_key",), secret=True, required=("state", "present")),
        material_options(
            "client_ca_certificate", aliases=("client_ca_certificate",), required=("auth_type", "two-way")
        ),
    )
    argument_spec.update(material_spec)
    argument_spec.update(
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        auth_type={"type": "str", "default": "one-way", "choices": ["one-way", "two-way"]},
        profile=POLICY_ARGS["profile"],
        policy={"type": "path"},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 300},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=constraints["mutually_exclusive"],
        required_if=constraints["required_if"],
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    provider = build_deployment(module)
    if params["state"] == "absent":
        outcome = remove(provider, check_mode=module.check_mode)
    else:
        loaded = {item: _load(module, item) for item in ITEMS}
        try:
            policy = load_policy(profile=params.get("profile"), path=params.get("policy"), discover=False)
        except PolicyError as exc:
            module.fail_json(msg=f"policy: {exc}")
        material = Material(
            auth_type=params["auth_type"],
            certificate=loaded["certificate"][0],
            chain=loaded["chain"][0],
            private_key=loaded["private_key"][0],
            client_ca=loaded["client_ca_certificate"][0],
            names={
                "certificate": loaded["certificate"][1],
                "chain": loaded["chain"][1],
                "private_key": loaded["private_key"][1],
                "client_ca": loaded["client_ca_certificate"][1],
            },
        )
        outcome = push(
            provider,
            material,
            policy=policy,
            check_mode=module.check_mode,
            wait=params["wait"],
            wait_timeout=params["wait_timeout"],
            endpoint=endpoint_spec(module),
        )
    for warning in outcome.warnings:
        module.warn(warning)
    if outcome.failed:
        module.fail_json(msg=outcome.message, **outcome.result)
    module.exit_json(**outcome.result)


if __name__ == "__main__":
    main()
