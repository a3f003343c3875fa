#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tls_probe
short_description: Test an MQTT deployment's TLS endpoint like MQTTX in strict mode
version_added: 0.1.0
description:
  - Connects to C(mqtts://host:8883) or C(wss://host:8084/mqtt) in strict mode, as the "Test connection" step of
    the TLS/SSL configuration guide does with MQTTX; the server's certificate chain is verified against the CA
    given in O(ca_path) or O(ca_content) (a self-signed deployment) or the system trust store (a certificate from
    a third-party CA), and its hostname against O(server_name) or the host.
  - Optionally presents a client certificate and key (two-way TLS) and an MQTT username and password, then
    completes an MQTT CONNECT with paho-mqtt and reports the CONNACK.
  - Returns the chain the server presents (subjects, issuers, fingerprints, days left), the TLS version and cipher.
  - On failure the message says which part failed, also returned as RV(stage) - V(tcp) (refused, timed out),
    V(handshake) (not TLS, a client certificate required or rejected), V(verification) (the chain does not verify),
    V(hostname) (the certificate is not valid for the name), V(mqtt) (CONNECT refused, for example a bad password).
  - The module only connects; it changes nothing on the managed node or the endpoint.
author:
  - certhygiene developers (@certhygiene)
requirements:
  - paho-mqtt >= 2.0
  - cryptography >= 3.4.8 (to describe the presented certificates; without it only fingerprints are returned)
extends_documentation_fragment:
  - certhygiene.tls.attributes
attributes:
  check_mode:
    support: full
    details: A probe only connects, so it also runs in check mode and reports the same result.
  diff_mode:
    support: none
options:
  url:
    description:
      - The endpoint, C(mqtts://host[:port]) or C(wss://host[:port][/path]).
      - Either O(url) or O(host) is required; O(host), O(port), O(transport) and O(path) override its parts.
    type: str
  host:
    description:
      - The host to connect to (name or IP address).
    type: str
  port:
    description:
      - The TCP port. Defaults to 8883 for V(mqtts) and 8084 for V(wss).
    type: int
  transport:
    description:
      - V(mqtts) is MQTT over TLS, V(wss) is MQTT over WebSocket over TLS.
      - Defaults to the URL's scheme, else V(mqtts).
    type: str
    choices: [mqtts, wss]
  path:
    description:
      - The WebSocket path for V(wss). Defaults to the URL's path, else C(/mqtt).
    type: str
  ca_path:
    description:
      - CA certificate(s) (PEM file on the managed node) to verify the server's chain with, for example the
        server CA of a self-signed deployment. Without O(ca_path) and O(ca_content) the system trust store is used.
    type: path
  ca_content:
    description:
      - CA certificate(s) as PEM content; an alternative to O(ca_path).
    type: str
  server_name:
    description:
      - The name the server's certificate must be valid for (and the SNI), when it differs from the host connected
        to (for example probing an IP address for a certificate issued to the deployment's domain).
    type: str
  client_cert:
    description:
      - Client certificate (PEM file) for two-way TLS.
    type: path
  client_key:
    description:
      - Private key of O(client_cert) (PEM file). Never logged nor returned.
    type: path
  client_key_passphrase:
    description:
      - Passphrase of O(client_key) if it is encrypted.
    type: str
  username:
    description:
      - MQTT username (the deployment's authentication).
    type: str
  password:
    description:
      - MQTT password. Never logged nor returned.
    type: str
  client_id:
    description:
      - MQTT client id. Defaults to C(certhygiene-probe-) and a random suffix.
    type: str
  mqtt_version:
    description:
      - MQTT protocol version of the CONNECT.
    type: str
    choices: ['3.1.1', '5']
    default: '3.1.1'
  timeout:
    description:
      - Seconds allowed for each step (TCP connect, TLS handshake, CONNACK).
    type: float
    default: 10
  fail_on_error:
    description:
      - If V(true), a failed probe fails the task. If V(false), the task succeeds and returns RV(connected=false)
        with RV(stage) and RV(msg), so a playbook can assert that a connection is refused (for example a client
        without a certificate on a two-way TLS deployment).
    type: bool
    default: true
seealso:
  - module: certhygiene.tls.tls_config
  - module: certhygiene.tls.certificate_check
"""

EXAMPLES = r"""
- name: Test mqtts with the server CA of a self-signed deployment
  certhygiene.tls.tls_probe:
    url: mqtts://mqtt.example.com:8883
    ca_path: /etc/pki/cloud-ca.crt
    username: device1
    password: "{{ mqtt_password }}"

- name: Test wss, verifying the certificate for the deployment's domain while connecting to its address
  certhygiene.tls.tls_probe:
    url: wss://203.0.113.10:8084/mqtt
    server_name: mqtt.example.com
    ca_path: /etc/pki/cloud-ca.crt
    username: device1
    password: "{{ mqtt_password }}"

- name: Two-way TLS with a client certificate
  certhygiene.tls.tls_probe:
    url: mqtts://mqtt.example.com:8883
    ca_path: /etc/pki/cloud-ca.crt
    client_cert: /etc/pki/client.crt
    client_key: /etc/pki/client.key
    username: device1
    password: "{{ mqtt_password }}"

- name: Without a client certificate the two-way deployment must refuse the connection
  certhygiene.tls.tls_probe:
    url: mqtts://mqtt.example.com:8883
    ca_path: /etc/pki/cloud-ca.crt
    username: device1
    password: "{{ mqtt_password }}"
    fail_on_error: false
  register: refused

- name: Assert the refusal
  ansible.builtin.assert:
    that:
      - not refused.connected
      - refused.stage == 'handshake'
"""

RETURN = r"""
connected:
  description: Whether the TLS handshake and the MQTT CONNECT succeeded.
  returned: always
  type: bool
  sample: true
stage:
  description:
    - V(connected) on success, else the step that failed - V(tcp), V(handshake), V(verification), V(hostname) or V(mqtt).
    - V(input) when the options are wrong (an unreadable CA or client certificate, a bad URL); nothing was probed.
  returned: always
  type: str
  sample: connected
msg:
  description: What happened, naming the part that failed.
  returned: always
  type: str
  sample: "connected to mqtts://mqtt.example.com:8883 (TLSv1.3, TLS_AES_256_GCM_SHA384); CONNACK: Success"
url:
  description: The endpoint probed.
  returned: always
  type: str
  sample: mqtts://mqtt.example.com:8883
transport:
  description: V(mqtts) or V(wss).
  returned: always
  type: str
  sample: mqtts
host:
  description: The host connected to.
  returned: always
  type: str
  sample: mqtt.example.com
port:
  description: The port connected to.
  returned: always
  type: int
  sample: 8883
path:
  description: The WebSocket path (V(wss) only, else null).
  returned: always
  type: str
  sample: /mqtt
server_name:
  description: The name the certificate was verified for.
  returned: always
  type: str
  sample: mqtt.example.com
tls:
  description: The negotiated TLS parameters (null values when the handshake did not complete).
  returned: always
  type: dict
  contains:
    version:
      description: TLS version.
      type: str
      sample: TLSv1.3
    cipher:
      description: Cipher suite.
      type: str
      sample: TLS_AES_256_GCM_SHA384
    bits:
      description: Secret bits of the cipher.
      type: int
      sample: 256
    verified:
      description: Whether the chain and hostname verified.
      type: bool
      sample: true
chain:
  description:
    - The certificates the server presents, leaf first, as facts (subject, common_name, issuer, serial,
      subject_alt_names, not_before, not_after, days_left, key_type, key_size, is_ca, fingerprint_sha256, ...).
    - Read from a TLS 1.2 handshake; when the server only speaks TLS 1.3 only the leaf is known
      (RV(chain_complete=false)).
  returned: always
  type: list
  elements: dict
  sample:
    - subject: CN=mqtt.example.com
      issuer: CN=CA,O=EMQ X Cloud
      days_left: 3649
      fingerprint_sha256: "AB:CD:..."
chain_complete:
  description: Whether RV(chain) is the whole chain as presented (else only the leaf).
  returned: always
  type: bool
  sample: true
connack:
  description:
    - The CONNACK, when one arrived. C(reason_code) is the MQTT 5 reason code (0 success, 134 bad username or
      password, 135 not authorized; paho maps MQTT 3.1.1 return codes to these).
  returned: always
  type: dict
  sample:
    reason_code: 0
    reason: Success
    session_present: false
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_text

from ..module_utils.certhygiene.probe import HAS_PAHO, PAHO_IMPORT_ERROR, ProbeError, probe
from ..module_utils.module_inputs import material_declarations, material_options, read_material


def main():
    material_spec, constraints = material_declarations(material_options("ca"))
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str"),
            host=dict(type="str"),
            port=dict(type="int"),
            transport=dict(type="str", choices=["mqtts", "wss"]),
            path=dict(type="str"),
            **material_spec,
            server_name=dict(type="str"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            client_key_passphrase=dict(type="str", no_log=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            client_id=dict(type="str"),
            mqtt_version=dict(type="str", choices=["3.1.1", "5"], default="3.1.1"),
            timeout=dict(type="float", default=10),
            fail_on_error=dict(type="bool", default=True),
        ),
        required_one_of=[("url", "host")],
        mutually_exclusive=constraints["mutually_exclusive"],
        required_by={"client_key": "client_cert"},
        supports_check_mode=True,
    )
    if not HAS_PAHO:
        module.fail_json(msg=missing_required_lib("paho-mqtt"), exception=PAHO_IMPORT_ERROR)
    params = module.params
    # Read here, bounded, so a bad ca_path fails in the words of every other module (not a hang on a FIFO).
    ca_data, ca_name = read_material(module, "ca_content", "ca_path", note="Nothing was probed.")
    try:
        result = probe(
            params["url"],
            host=params["host"],
            port=params["port"],
            transport=params["transport"],
            path=params["path"],
            ca_data=None if ca_data is None else to_text(ca_data, errors="surrogate_or_replace"),
            ca_name=None if ca_name == "ca_content" else ca_name,
            server_name=params["server_name"],
            client_cert=params["client_cert"],
            client_key=params["client_key"],
            client_key_password=params["client_key_passphrase"],
            username=params["username"],
            password=params["password"],
            client_id=params["client_id"],
            mqtt_version=params["mqtt_version"],
            timeout=params["timeout"],
        )
    except ProbeError as exc:
        module.fail_json(msg=str(exc), connected=False, stage="input")
    out = result.as_dict()
    msg = out.pop("msg")
    if not result.connected and params["fail_on_error"]:
        module.fail_json(msg=msg, changed=False, **out)
    module.exit_json(msg=msg, changed=False, **out)


if __name__ == "__main__":
    main()
