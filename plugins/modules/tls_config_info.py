#!/usr/bin/python
# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_config_info
short_description: Read a deployment's TLS/SSL configuration
version_added: 0.1.0
description:
  - Reads the TLS configuration of a deployment through its API (a GET; nothing is written) and, with
    O(verify_endpoint), the certificate its TLS endpoint presents.
  - The API never returns the certificate or the key; it reports the TLS type, the leaf's CN, its expiry and the
    status of the configuration (C(pending), C(running), C(failed)).
author:
  - certhygiene developers (@certhygiene)
extends_documentation_fragment:
  - certhygiene.tls.deployment_api
  - certhygiene.tls.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
seealso:
  - module: certhygiene.tls.tls_config
requirements:
  - cryptography >= 3.4.8 on the managed node (tested with 3.4.8, 36, 38, 41, 43 and the newest release)
"""

EXAMPLES = r"""
- name: Read the TLS configuration of a deployment
  certhygiene.tls.tls_config_info:
    api_url: https://cloud.example.com/public_api/v1
    api_key: "{{ cloud_api_key }}"
    api_secret: "{{ cloud_api_secret }}"
    deployment_id: d1a2b3c4
    verify_endpoint:
      host: mqtt.example.com
      port: 8883
  register: tls

- name: Say when it expires
  ansible.builtin.debug:
    msg: "{{ tls.config.cn }} expires {{ tls.config.expire }}"
  when: tls.present
"""

RETURN = r"""
present:
  description: Whether the deployment has a TLS configuration.
  returned: always
  type: bool
config:
  description: The configuration as the API reports it (public facts only).
  returned: always
  type: dict
  contains:
    present:
      description: Whether a TLS configuration exists.
      type: bool
      returned: always
    tls_type:
      description: C(one-way) or C(two-way); null when unknown.
      type: str
      returned: always
    cn:
      description: The common name of the configured leaf certificate.
      type: str
      returned: always
    expire:
      description: The expiry of the configured leaf certificate, as the API gives it.
      type: str
      returned: always
    status:
      description: C(pending), C(running) or C(failed) (emqx-cloud profile); null when the service has no status.
      type: str
      returned: always
    fingerprint_sha256:
      description: Fingerprint of the configured leaf, when the API answer carries the certificate.
      type: str
      returned: when known
    endpoint:
      description: What O(verify_endpoint) presents (C(fingerprint_sha256), C(subject), C(error)).
      type: dict
      returned: when O(verify_endpoint) is given
  sample: {"present": true, "tls_type": "one-way", "cn": "mqtt.example.com", "expire": "2036-11-26T23:52:34Z",
           "status": "running"}
raw:
  description: The API's answer, with any private-key field removed.
  returned: always
  type: dict
requests:
  description: The HTTP requests made (method, path, attempt, status or error).
  returned: always
  type: list
  elements: dict
"""


from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.certhygiene.push import inspect
from ..module_utils.certhygiene.transport import ApiError
from ..module_utils.deployment_api import CONNECTION_ARGS, build_deployment, endpoint_spec


def main() -> None:
    module = AnsibleModule(argument_spec=dict(CONNECTION_ARGS), supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    provider = build_deployment(module)
    try:
        observed = inspect(provider, endpoint_spec(module))
    except ApiError as exc:
        module.fail_json(msg=f"cannot read the TLS configuration: {exc.message}", requests=provider.client.log)
    module.exit_json(
        changed=False,
        present=observed.present,
        config=observed.facts(),
        raw=observed.raw if isinstance(observed.raw, dict) else {},
        requests=provider.client.log,
    )


if __name__ == "__main__":
    main()
