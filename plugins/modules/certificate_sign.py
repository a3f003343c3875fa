#!/usr/bin/python
# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_sign
short_description: Sign a certificate signing request with a CA, idempotently (enrolment without moving keys)
version_added: 0.1.0
description:
  - Signs a certificate signing request (CSR), given by path (O(csr_path)) or content (O(csr_content)), with a CA
    certificate and its key, and returns the certificate. Run it on the CA host (for example with C(delegate_to))
    while the device keeps its private key (the request carries only the public key and the names).
  - The certificate gets the request's subject, subjectAltNames and public key, and the extensions of O(kind)
    (as M(certhygiene.tls.certificate) makes them; V(client) gets extendedKeyUsage C(clientAuth)).
    The request's own signature must verify.
  - Idempotent. With the certificate the device has now (O(certificate_content) or O(certificate_path)), the module
    signs nothing while that certificate carries the request's key, subject and names, the kind's extensions, this
    CA's signature and more than O(renew_before_days) days of validity; it returns it unchanged.
  - The key type and size of the request are checked against the policy (O(profile)) before anything is signed,
    and so is the algorithm of the CA's key.
  - Writes no file unless O(path) is given (then the certificate, mode C(0644), atomically).
author:
  - certhygiene developers (@certhygiene)
requirements:
  - cryptography >= 3.4.8 on the managed node (tested with 3.4.8, 36, 38, 41, 43 and the newest release)
extends_documentation_fragment:
  - certhygiene.tls.policy
  - certhygiene.tls.attributes
attributes:
  check_mode:
    support: full
    details: Check mode says whether a certificate would be signed, and why; it signs and writes nothing.
  diff_mode:
    support: full
    details: The diff shows subject, subjectAltNames, issuer, serial, dates and fingerprint before and after.
options:
  csr_path:
    description:
      - Path of the certificate signing request (PEM) on the host the module runs on.
      - Exactly one of O(csr_path) and O(csr_content) is required.
    type: path
  csr_content:
    description:
      - The certificate signing request as PEM content (for example read from the device with M(ansible.builtin.slurp)).
    type: str
  ca_certificate_path:
    description: Path of the CA certificate that signs.
    type: path
  ca_certificate_content:
    description: The CA certificate as PEM content.
    type: str
  ca_key_path:
    description: Path of the CA's private key. It is read where the module runs and never returned.
    type: path
  ca_key_content:
    description: The CA's private key as PEM content. Never logged or returned.
    type: str
  ca_key_passphrase:
    description: Passphrase of an encrypted CA key.
    type: str
  kind:
    description: What the certificate is for.
    type: str
    choices: [client, server]
    default: client
  days:
    description:
      - Validity of a new certificate in days (825 by default); never beyond the CA's own expiry.
      - Mutually exclusive with O(not_after).
    type: int
  not_after:
    description: Fixed end of validity (C(2030-01-31), C(2030-01-31T12:00:00Z)).
    type: str
  renew_before_days:
    description: Sign again when the current certificate has fewer days than this left.
    type: int
    default: 30
  certificate_path:
    description:
      - The certificate the requester has now, to decide whether a new one is needed (path on the host the module
        runs on). Without it (and without O(certificate_content)) a certificate is always signed.
    type: path
  certificate_content:
    description: The certificate the requester has now, as PEM content.
    type: str
  path:
    description:
      - Also write the certificate here (on the host the module runs on). Usually left out, the certificate is
        returned in RV(certificate) and copied to the device.
    type: path
notes:
  - The module never sees a private key other than the CA's, which it only uses to sign.
  - The role C(certhygiene.tls.enrol) drives this module for a fleet of devices.
seealso:
  - module: certhygiene.tls.certificate
"""

EXAMPLES = r"""
- name: Make the device's key and request on the device
  certhygiene.tls.certificate:
    kind: client
    private_key_path: /etc/mqtt/device.key
    csr_path: /etc/mqtt/device.csr
    subject:
      CN: "{{ inventory_hostname }}"

- name: Read the request (public)
  ansible.builtin.slurp:
    src: /etc/mqtt/device.csr
  register: device_csr

- name: Sign it on the CA host
  certhygiene.tls.certificate_sign:
    csr_content: "{{ device_csr.content | b64decode }}"
    ca_certificate_path: /srv/pki/client-ca.crt
    ca_key_path: /srv/pki/client-ca.key
  delegate_to: ca.example.com
  register: signed

- name: Give the device its certificate
  ansible.builtin.copy:
    content: "{{ signed.certificate }}"
    dest: /etc/mqtt/device.crt
    mode: "0644"
"""

RETURN = r"""
certificate:
  description: The certificate (PEM), newly signed or the current one kept; empty in check mode when one would be signed.
  returned: always
  type: str
changes:
  description: Why a certificate was (or would be) signed; empty when the current one is kept.
  returned: always
  type: list
  elements: str
  sample: ["no certificate yet: sign the request"]
subject:
  description: Subject of the certificate (RFC 4514).
  returned: always
  type: str
subject_alt_names:
  description: subjectAltNames of the certificate.
  returned: always
  type: list
  elements: str
issuer:
  description: Issuer of the certificate.
  returned: always
  type: str
serial:
  description: Serial number (hex).
  returned: always
  type: str
not_after:
  description: End of validity, ISO 8601.
  returned: always
  type: str
fingerprint_sha256:
  description: SHA-256 fingerprint of the certificate.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.module_inputs import (
    material_declarations,
    material_options,
    quiet_library_warnings,
    read_material,
    read_path,
)
from ..module_utils.module_policy import POLICY_ARGS, load_module_policy


def main():
    quiet_library_warnings()
    material_spec, constraints = material_declarations(
        material_options("csr", required=True),
        material_options("ca_certificate", required=True),
        material_options("ca_key", secret=True, required=True),
        material_options("certificate"),
    )
    module = AnsibleModule(
        argument_spec=dict(
            **material_spec,
            ca_key_passphrase=dict(type="str", no_log=True),
            kind=dict(type="str", default="client", choices=["client", "server"]),
            days=dict(type="int"),
            not_after=dict(type="str"),
            renew_before_days=dict(type="int", default=30),
            path=dict(type="path"),
            **POLICY_ARGS,
        ),
        mutually_exclusive=[*constraints["mutually_exclusive"], ("days", "not_after")],
        required_one_of=constraints["required_one_of"],
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    from ..module_utils.certhygiene import issue
    from ..module_utils.certhygiene._crypto import serialization
    from ..module_utils.certhygiene.files import Output, WriteError, write_outputs

    params = module.params
    policy = load_module_policy(module)
    csr_data, csr_name = read_material(module, "csr_content", "csr_path")
    ca_data, ca_name = read_material(module, "ca_certificate_content", "ca_certificate_path")
    key_data, key_name = read_material(module, "ca_key_content", "ca_key_path")
    existing, existing_name = None, "certificate_content"
    if params["certificate_content"] is not None:
        existing = to_bytes(params["certificate_content"]) if params["certificate_content"].strip() else None
    elif params["certificate_path"] is not None:
        if os.path.exists(params["certificate_path"]):
            existing = read_path(module, "certificate_path", params["certificate_path"])
            existing_name = params["certificate_path"]
    passphrase = params["ca_key_passphrase"]
    try:
        issuer = issue.load_issuer(
            ca_data, ca_name, key_data, key_name, to_bytes(passphrase) if passphrase is not None else None
        )
        signed = issue.sign_csr(
            csr_data,
            csr_name,
            issuer,
            kind=params["kind"],
            days=params["days"],
            not_after=params["not_after"],
            renew_before_days=params["renew_before_days"],
            existing=existing,
            existing_name=existing_name,
            policy=policy,
            check_mode=module.check_mode,
        )
        pem = signed.certificate.public_bytes(serialization.Encoding.PEM) if signed.certificate is not None else b""
        if params["path"] is not None and signed.changed and not module.check_mode:
            write_outputs([Output(params["path"], pem, "path")])
    except issue.IssueError as exc:
        module.fail_json(msg=str(exc))
    except WriteError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"cannot write {exc.filename or 'a file'}: {exc.strerror}")

    summary = signed.summary
    result = dict(
        changed=signed.changed,
        changes=signed.changes,
        certificate=pem.decode("ascii"),
        subject=summary.get("subject"),
        subject_alt_names=summary.get("subject_alt_names", []),
        issuer=summary.get("issuer"),
        serial=summary.get("serial"),
        not_after=summary.get("not_after"),
        fingerprint_sha256=summary.get("fingerprint_sha256"),
    )
    if module._diff:
        result["diff"] = dict(before=signed.before, after=summary)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
