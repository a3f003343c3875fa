#!/usr/bin/python
# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: client_certificates
short_description: Issue many TLS client certificates from one CA in one task, on all cores
version_added: 0.1.0
description:
  - Issues one private key and one TLS client certificate per name in O(names), signed by one CA,
    as C(<dir>/<name>.key) and C(<dir>/<name>.crt). The name is the certificate's common name and the file stem.
  - One task for a whole fleet of MQTT devices; keys are generated in parallel on every core of the managed node
    (worker processes, or threads where processes cannot start).
  - Each certificate is what M(certhygiene.tls.certificate) makes with O(certhygiene.tls.certificate#module:kind=client), that is
    keyUsage C(digitalSignature), extendedKeyUsage C(clientAuth), subject and authority key identifiers,
    a random serial.
  - Idempotent, name by name, with the same rules as M(certhygiene.tls.certificate). A certificate is issued
    again when its subject, key, issuer or extensions no longer match, or when fewer than O(renew_before_days)
    days are left. An existing key is never replaced without O(regenerate_key=true) (a key that no longer fits
    the options or the policy fails the task; with O(regenerate_key=true) a 0600 backup of it is kept).
    Files of names that are not listed are left alone.
  - Key type and size are checked against the policy (O(profile)) before anything is made.
  - An existing key file that cannot be read makes the module fail without touching any file.
  - Private key content never appears in results, diffs, logs or error messages.
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
    details: Check mode reports exactly which certificates would be created, renewed or left alone, and why; it writes nothing.
  diff_mode:
    support: full
    details: The diff lists, for each certificate that changes, its subject, dates, issuer and fingerprints before and after; never keys.
options:
  names:
    description:
      - The client names. Each is the common name (CN) of a certificate and the stem of its files.
      - Letters, digits and C(. _ @ + -), starting with a letter or digit, at most 128 characters.
    type: list
    elements: str
    required: true
  dir:
    description:
      - The folder for the keys and certificates. It must exist.
    type: path
    required: true
  ca_certificate_path:
    description:
      - The client CA certificate (PEM) that signs the certificates.
    type: path
    required: true
  ca_key_path:
    description:
      - The client CA's private key (PEM).
    type: path
    required: true
  ca_key_passphrase:
    description:
      - The passphrase of an encrypted CA private key.
    type: str
  subject:
    description:
      - More subject attributes for every certificate (C(C), C(ST), C(L), C(O), C(OU), C(emailAddress)).
        The common name is always the client's name; a C(CN) here is an error.
    type: dict
    default: {}
  key_type:
    description:
      - The private keys' algorithm; it must be the CA key's algorithm.
    type: str
    choices: [rsa, ec]
    default: rsa
  key_size:
    description:
      - Bits of RSA keys, or the curve of EC keys (256, 384, 521). Defaults to 2048 for RSA, 256 for EC.
    type: int
  days:
    description:
      - Validity of new certificates, in days (cut to the CA's own validity).
    type: int
    default: 825
  renew_before_days:
    description:
      - Issue a certificate again when fewer days than this are left.
    type: int
    default: 30
  regenerate_key:
    description:
      - Replace every listed client's private key with a new one (and issue its certificate again).
    type: bool
    default: false
  backup:
    description:
      - Keep a copy of every file the module replaces, beside it with a timestamp.
    type: bool
    default: false
  workers:
    description:
      - How many keys to generate at the same time. Defaults to the number of cores available.
    type: int
seealso:
  - module: certhygiene.tls.certificate
    description: Issue one key and certificate of any kind.
"""

EXAMPLES = r"""
- name: Issue a client certificate for every device
  certhygiene.tls.client_certificates:
    names: "{{ groups['devices'] }}"
    dir: /etc/mqtt/clients
    ca_certificate_path: /etc/mqtt/certs/client-ca.crt
    ca_key_path: /etc/mqtt/certs/client-ca.key
    subject:
      O: Example Fleet
  register: clients

- name: Report what was made
  ansible.builtin.debug:
    msg: "created {{ clients.created | length }}, renewed {{ clients.renewed | length }}"
"""

RETURN = r"""
created:
  description: Names whose key and certificate were made (or would be, in check mode), in the order of O(names).
  returned: always
  type: list
  elements: str
  sample: ["device-1", "device-2"]
renewed:
  description: Names whose certificate (and maybe key) was issued again.
  returned: always
  type: list
  elements: str
  sample: ["device-3"]
unchanged:
  description: Names left alone.
  returned: always
  type: list
  elements: str
  sample: ["device-4"]
fixed:
  description: Names whose certificate was kept but whose private key file mode was set back to C(0600).
  returned: always
  type: list
  elements: str
  sample: []
certificates:
  description: Per name, the files and public facts of its certificate, and why it changed.
  returned: always
  type: dict
  sample:
    device-1:
      path: /etc/mqtt/clients/device-1.crt
      private_key_path: /etc/mqtt/clients/device-1.key
      changes: ["private key /etc/mqtt/clients/device-1.key does not exist: generate a rsa/2048 (RSA_2048) key"]
      not_after: "2028-04-05T12:00:00+00:00"
      fingerprint_sha256: "AB:CD:..."
      serial: "0x3a5f"
      backup_files: {}
key_generation:
  description: How new keys were generated, V(process), V(thread), V(serial), or V(none) when no key was needed.
  returned: always
  type: str
  sample: process
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.module_inputs import quiet_library_warnings, read_path
from ..module_utils.module_policy import POLICY_ARGS, load_module_policy

KEPT_FIELDS = ("path", "private_key_path", "changes", "not_after", "fingerprint_sha256", "serial", "backup_files")


def read_file(module, option):
    path = module.params[option]
    return read_path(module, option, path)


def main():
    quiet_library_warnings()
    argument_spec = dict(
        names=dict(type="list", elements="str", required=True),
        dir=dict(type="path", required=True),
        ca_certificate_path=dict(type="path", required=True),
        ca_key_path=dict(type="path", required=True, no_log=False),
        ca_key_passphrase=dict(type="str", no_log=True),
        subject=dict(type="dict", default={}),
        key_type=dict(type="str", default="rsa", choices=["rsa", "ec"]),
        key_size=dict(type="int"),
        days=dict(type="int", default=825),
        renew_before_days=dict(type="int", default=30),
        regenerate_key=dict(type="bool", default=False),
        backup=dict(type="bool", default=False),
        workers=dict(type="int"),
        **POLICY_ARGS,
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    import os

    from ..module_utils.certhygiene import issue

    params = module.params
    policy = load_module_policy(module)

    folder = params["dir"]
    if not os.path.isdir(folder):
        module.fail_json(msg=f"dir: {folder} is not a folder; create it first")
    extra = dict(params["subject"] or {})
    if any(str(k).lower() in ("cn", "commonname") for k in extra):
        module.fail_json(msg="subject: leave CN out; each certificate's CN is its client name")
    if params["workers"] is not None and params["workers"] < 1:
        module.fail_json(msg="workers must be at least 1")

    try:
        names = []
        for name in params["names"]:
            issue.safe_name(name)
            if name in names:
                module.fail_json(msg=f"names: {name} is listed twice")
            names.append(name)
        targets = []
        for name in names:
            subject = dict(extra)
            subject["CN"] = name
            spec = issue.make_spec(
                "client",
                subject=subject,
                key_type=params["key_type"],
                key_size=params["key_size"],
                days=params["days"],
                renew_before_days=params["renew_before_days"],
            )
            base = os.path.join(folder, name)
            targets.append(issue.Target(spec, base + ".key", base + ".crt", name=name))
        passphrase = params["ca_key_passphrase"]
        issuer = issue.load_issuer(
            read_file(module, "ca_certificate_path"),
            params["ca_certificate_path"],
            read_file(module, "ca_key_path"),
            params["ca_key_path"],
            to_bytes(passphrase) if passphrase is not None else None,
        )
        outcomes, how = issue.manage_many(
            targets,
            issuer=issuer,
            policy=policy,
            regenerate_key=params["regenerate_key"],
            check_mode=module.check_mode,
            backup=params["backup"],
            workers=params["workers"],
        )
    except issue.IssueError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"cannot write {exc.filename or 'a file'}: {exc.strerror}")

    created, renewed, unchanged, fixed = [], [], [], []
    certificates = {}
    before, after = {}, {}
    for outcome in outcomes:
        name = outcome.target.name
        if not outcome.changed:
            unchanged.append(name)
        elif outcome.plan.cert_action == "keep":
            fixed.append(name)
        elif outcome.plan.key_action == "create" or not outcome.before.get("subject"):
            created.append(name)
        else:
            renewed.append(name)
        certificates[name] = {k: outcome.result.get(k) for k in KEPT_FIELDS}
        if outcome.changed:
            before[name] = outcome.before
            after[name] = outcome.after
    result = dict(
        changed=bool(created or renewed or fixed),
        created=created,
        renewed=renewed,
        unchanged=unchanged,
        fixed=fixed,
        certificates=certificates,
        key_generation=how,
    )
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header=folder, after_header=folder)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
