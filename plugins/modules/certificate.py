#!/usr/bin/python
# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate
short_description: Issue a private key and a CA, intermediate, server or client certificate, idempotently
version_added: 0.1.0
description:
  - Manages one private key and its X.509 v3 certificate (and optionally a certificate signing request), one of
    a self-signed CA (O(kind=ca)), an intermediate CA signed by another CA (O(kind=intermediate)),
    a CA-signed TLS server certificate (O(kind=server)) or a CA-signed TLS client certificate (O(kind=client)).
  - Certificates carry the extensions of their kind. CA certificates get a critical basicConstraints
    C(CA:TRUE) (an intermediate with C(pathlen:0)) and a critical keyUsage C(keyCertSign, cRLSign).
    Server certificates get C(CA:FALSE), keyUsage C(digitalSignature) (and C(keyEncipherment) for RSA),
    extendedKeyUsage C(serverAuth) and a subjectAltName with every DNS name and IP address. Client certificates
    get keyUsage C(digitalSignature) and extendedKeyUsage C(clientAuth). Every certificate has subject and
    authority key identifiers and a random serial number.
  - The key type and size are checked against the policy (O(profile)) B(before) anything is made, so the module
    refuses to make a key or certificate the deployment would refuse (the V(seed) profile allows RSA 1024 and
    2048 bit keys only). A server certificate also needs a DNS name or IP address and, by the policy, at least
    its minimum remaining validity (180 days for V(seed)).
  - Idempotent. A second run changes nothing. The certificate is issued again when its subject,
    subjectAltNames, kind, key or issuer no longer match the options, when the policy no longer accepts it,
    or when fewer than O(renew_before_days) days (or the policy's minimum remaining validity) are left.
  - An existing private key is never replaced without O(regenerate_key=true). A key that no longer fits the
    options (another type or size), one the policy no longer allows (for example RSA 4096, or EC under the
    V(seed) profile), and a key file that cannot be read (encrypted, damaged, not a key) make the module fail,
    changing nothing, with a message saying how to proceed. With O(regenerate_key=true) the old key is
    always copied first (C(FILE.<pid>.<YYYY-MM-DD@HH:MM:SS>~), mode C(0600)), with or without O(backup).
  - Files are written all or nothing and atomically (temporary files beside their targets, then renames; a
    failed write changes no file); the private key gets mode C(0600), certificates and requests C(0644). The
    certificate and the request are never written over a private key or the issuer's files.
    The private key is written unencrypted in the traditional PEM format (C(BEGIN RSA PRIVATE KEY) or
    C(BEGIN EC PRIVATE KEY)), the format the deployment documentation shows.
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
    details: Check mode reports exactly the changes, with their reasons, that a normal run would make, and writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows subject, subjectAltNames, issuer, serial, dates, fingerprints, key type and size of the
        certificate before and after. It never shows the private key.
options:
  path:
    description:
      - Where the certificate (PEM) is written.
      - Omit it together with an issuer to manage only the private key and the O(csr_path) request,
        for an external CA.
    type: path
  private_key_path:
    description:
      - Where the private key (PEM, unencrypted, mode C(0600)) is kept.
      - An existing key is reused when it fits.
    type: path
    required: true
  csr_path:
    description:
      - Also write a certificate signing request for the key, subject, subjectAltNames and extensions here,
        for example to have the certificate signed by an external CA.
    type: path
  kind:
    description:
      - What the certificate is for.
      - V(ca) is a self-signed root CA; the other kinds need an issuer
        (O(issuer_certificate_path) or O(issuer_certificate_content), and O(issuer_key_path) or
        O(issuer_key_content)) unless only O(csr_path) is wanted.
    type: str
    choices: [ca, intermediate, server, client]
    default: server
  key_type:
    description:
      - The private key's algorithm.
      - The issuer's key must have the same algorithm (the deployment requires the certificate's algorithm
        to match its signing CA's).
    type: str
    choices: [rsa, ec]
    default: rsa
  key_size:
    description:
      - Bits of an RSA key (1024, 2048, 3072, 4096), or the curve of an EC key (256 for P-256, 384 for P-384,
        521 for P-521).
      - Defaults to 2048 for RSA and 256 for EC.
      - The policy decides which are allowed (V(seed) allows RSA 1024 and 2048 only).
    type: int
  subject:
    description:
      - The subject as a mapping of C(C), C(ST), C(L), C(O), C(OU), C(CN) and C(emailAddress)
        (long names such as C(commonName) work too). C(CN) is required.
      - For O(kind=server), a C(CN) that is a DNS name with a dot or an IP address is also put in the
        subjectAltName (clients match host names against subjectAltName only).
    type: dict
    required: true
  subject_alt_names:
    description:
      - DNS names and IP addresses of a server (or client) certificate.
      - Write C(DNS:mqtt.example.com) and C(IP:203.0.113.10), or bare values (IP addresses are recognised).
      - A server certificate needs at least one fully qualified domain name or IP address.
    type: list
    elements: str
    default: []
  days:
    description:
      - Validity of a new certificate, in days from now.
      - Defaults to 3650 for CAs and to 825 for server and client certificates (the longest validity Apple
        platforms accept for TLS server certificates, far above the 180 days the deployment requires).
      - A certificate never outlives its issuer; its validity is cut to the issuer's.
      - Mutually exclusive with O(not_after).
    type: int
  not_after:
    description:
      - Fixed end of validity, as C(2030-01-31), C(2030-01-31T12:00:00Z) or C(20300131120000Z) (UTC unless
        a zone is given). A certificate with another end of validity is issued again.
      - Mutually exclusive with O(days).
    type: str
  renew_before_days:
    description:
      - Issue the certificate again when fewer days than this are left.
      - For CA and server certificates the policy's minimum remaining validity (180 days for V(seed)) applies
        when it is larger, so the certificate always stays importable.
    type: int
    default: 30
  issuer_certificate_path:
    description:
      - The issuing CA certificate (PEM) on the managed node.
      - Mutually exclusive with O(issuer_certificate_content).
    type: path
  issuer_certificate_content:
    description:
      - The issuing CA certificate as PEM content.
    type: str
  issuer_key_path:
    description:
      - The issuing CA's private key (PEM) on the managed node.
      - Mutually exclusive with O(issuer_key_content).
    type: path
  issuer_key_content:
    description:
      - The issuing CA's private key as PEM content. It is never logged nor returned.
    type: str
  issuer_key_passphrase:
    description:
      - The passphrase of an encrypted issuer private key.
    type: str
  regenerate_key:
    description:
      - Replace the private key with a new one (and issue the certificate again) even when the existing key
        fits. The only way to replace an existing key - one that no longer fits the options or the policy, or a
        key file that cannot be read. A backup copy of the old key is always kept (mode C(0600)).
      - Every run replaces the key while this is V(true); set it for one run only.
    type: bool
    default: false
  backup:
    description:
      - Keep a copy of every file the module replaces, beside it with a timestamp (a key's copy has mode C(0600)).
    type: bool
    default: false
notes:
  - Serial numbers are random (159 bits); certificates are backdated by one hour against clock skew.
  - The private key and certificate are not touched in check mode; keys are never generated in check mode.
seealso:
  - module: certhygiene.tls.client_certificates
    description: Issue many client certificates in one task.
  - module: certhygiene.tls.certificate_check
    description: Check a certificate, chain and key against the deployment's import rules.
"""

EXAMPLES = r"""
- name: Make the server CA (the seed's cloud-ca.crt and cloud-ca.key)
  certhygiene.tls.certificate:
    kind: ca
    path: /etc/mqtt/certs/cloud-ca.crt
    private_key_path: /etc/mqtt/certs/cloud-ca.key
    subject:
      C: CN
      ST: XX
      L: XX
      O: EMQ X Cloud
      CN: CA

- name: Make the server certificate for the deployment's connection address
  certhygiene.tls.certificate:
    kind: server
    path: /etc/mqtt/certs/cloud.crt
    private_key_path: /etc/mqtt/certs/cloud.key
    subject:
      O: EMQ X Cloud
      CN: mqtt.example.com
    subject_alt_names:
      - DNS:mqtt.example.com
      - IP:203.0.113.10
    issuer_certificate_path: /etc/mqtt/certs/cloud-ca.crt
    issuer_key_path: /etc/mqtt/certs/cloud-ca.key
  register: server_cert

- name: Say why it was (re)issued
  ansible.builtin.debug:
    var: server_cert.changes

- name: An EC client certificate (needs an EC CA and a profile that allows EC keys)
  certhygiene.tls.certificate:
    kind: client
    path: /etc/mqtt/certs/device-1.crt
    private_key_path: /etc/mqtt/certs/device-1.key
    key_type: ec
    key_size: 256
    profile: emqx-cloud
    subject:
      CN: device-1
    issuer_certificate_path: /etc/mqtt/certs/client-ca-ec.crt
    issuer_key_path: /etc/mqtt/certs/client-ca-ec.key

- name: Key and CSR only, for a certificate from an external CA
  certhygiene.tls.certificate:
    private_key_path: /etc/mqtt/certs/cloud.key
    csr_path: /etc/mqtt/certs/cloud.csr
    subject:
      CN: mqtt.example.com
    subject_alt_names:
      - mqtt.example.com
"""

RETURN = r"""
changes:
  description:
    - Why the module changed something, one sentence per change. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample: ["subject_alt_names change: add DNS:mqtt2.example.com"]
path:
  description: The certificate's path.
  returned: always
  type: str
  sample: /etc/mqtt/certs/cloud.crt
private_key_path:
  description: The private key's path.
  returned: always
  type: str
  sample: /etc/mqtt/certs/cloud.key
csr_path:
  description: The certificate signing request's path, if one was asked for.
  returned: always
  type: str
  sample: /etc/mqtt/certs/cloud.csr
kind:
  description: The kind of certificate.
  returned: always
  type: str
  sample: server
key_action:
  description: What happened to the private key, V(keep), V(create) or V(regenerate).
  returned: always
  type: str
  sample: keep
certificate_action:
  description: What happened to the certificate, V(keep), V(write) or V(none) (no O(path)).
  returned: always
  type: str
  sample: write
csr_action:
  description: What happened to the request, V(keep), V(write) or V(none) (no O(csr_path)).
  returned: always
  type: str
  sample: none
subject:
  description: The certificate's subject, RFC 4514.
  returned: always
  type: str
  sample: CN=mqtt.example.com,O=EMQ X Cloud
subject_alt_names:
  description: The certificate's subjectAltName entries.
  returned: always
  type: list
  elements: str
  sample: ["DNS:mqtt.example.com", "IP:203.0.113.10"]
issuer:
  description: The issuer's subject, RFC 4514.
  returned: when a certificate is managed
  type: str
  sample: CN=CA,O=EMQ X Cloud,L=XX,ST=XX,C=CN
serial:
  description: The serial number in hexadecimal (a placeholder in check mode when a new certificate would be issued).
  returned: when a certificate is managed
  type: str
  sample: "0x3a5f0c9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"
not_before:
  description: Start of validity, ISO 8601.
  returned: when a certificate is managed
  type: str
  sample: "2026-01-01T11:00:00+00:00"
not_after:
  description: End of validity, ISO 8601 (predicted in check mode).
  returned: when a certificate is managed
  type: str
  sample: "2028-04-05T12:00:00+00:00"
fingerprint_sha256:
  description: SHA-256 fingerprint of the certificate (a placeholder in check mode when a new one would be issued).
  returned: when a certificate is managed
  type: str
  sample: "AB:CD:EF:..."
key_type:
  description: The private key's algorithm, V(RSA) or V(EC).
  returned: always
  type: str
  sample: RSA
key_size:
  description: The key's size in bits (the curve size for EC).
  returned: always
  type: int
  sample: 2048
public_key_sha256:
  description: SHA-256 fingerprint of the public key (SubjectPublicKeyInfo); null when a new key would be made in check mode.
  returned: always
  type: str
  sample: "12:34:56:..."
backup_files:
  description: The copies O(backup=true) made, by what they hold (V(private_key), V(certificate), V(csr)).
  returned: always
  type: dict
  sample: {"certificate": "/etc/mqtt/certs/cloud.crt.1234.2026-01-01@12:00:00~"}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.module_inputs import material_declarations, material_options, quiet_library_warnings, read_material
from ..module_utils.module_policy import POLICY_ARGS, load_module_policy


def load_issuer(module, issue):
    cert_data, cert_name = read_material(module, "issuer_certificate_content", "issuer_certificate_path")
    key_data, key_name = read_material(module, "issuer_key_content", "issuer_key_path")
    if cert_data is None and key_data is None:
        return None
    if cert_data is None or key_data is None:
        module.fail_json(
            msg="give both the issuer certificate (issuer_certificate_path or issuer_certificate_content) "
            "and its private key (issuer_key_path or issuer_key_content)"
        )
    passphrase = module.params["issuer_key_passphrase"]
    return issue.load_issuer(
        cert_data, cert_name, key_data, key_name, to_bytes(passphrase) if passphrase is not None else None
    )


def main():
    quiet_library_warnings()
    material_spec, constraints = material_declarations(
        material_options("issuer_certificate"),
        material_options("issuer_key", secret=True),
    )
    argument_spec = dict(
        path=dict(type="path"),
        private_key_path=dict(type="path", required=True, no_log=False),
        csr_path=dict(type="path"),
        kind=dict(type="str", default="server", choices=["ca", "intermediate", "server", "client"]),
        key_type=dict(type="str", default="rsa", choices=["rsa", "ec"]),
        key_size=dict(type="int"),
        subject=dict(type="dict", required=True),
        subject_alt_names=dict(type="list", elements="str", default=[]),
        days=dict(type="int"),
        not_after=dict(type="str"),
        renew_before_days=dict(type="int", default=30),
        **material_spec,
        issuer_key_passphrase=dict(type="str", no_log=True),
        regenerate_key=dict(type="bool", default=False),
        backup=dict(type="bool", default=False),
        **POLICY_ARGS,
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[*constraints["mutually_exclusive"], ("days", "not_after")],
        required_one_of=[("path", "csr_path")],
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    from ..module_utils.certhygiene import issue

    params = module.params
    policy = load_module_policy(module)

    try:
        spec = issue.make_spec(
            params["kind"],
            subject=params["subject"],
            subject_alt_names=params["subject_alt_names"],
            key_type=params["key_type"],
            key_size=params["key_size"],
            days=params["days"],
            not_after=params["not_after"],
            renew_before_days=params["renew_before_days"],
        )
        issuer = load_issuer(module, issue)
        if params["path"] is None and issuer is not None:
            module.fail_json(msg="the issuer options need path (where the certificate goes)")
        if params["path"] is not None and params["kind"] != "ca" and issuer is None:
            module.fail_json(
                msg=f"kind {params['kind']} needs an issuer: set issuer_certificate_path and issuer_key_path "
                "(or their _content variants), or drop path to write only the key and csr_path"
            )
        target = issue.Target(spec, params["private_key_path"], params["path"], params["csr_path"])
        outcome = issue.manage(
            target,
            issuer=issuer,
            policy=policy,
            regenerate_key=params["regenerate_key"],
            check_mode=module.check_mode,
            backup=params["backup"],
        )
    except issue.IssueError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"cannot write {exc.filename or 'a file'}: {exc.strerror}")

    result = dict(outcome.result)
    if module._diff:
        header = params["path"] or params["csr_path"]
        result["diff"] = dict(before=outcome.before, after=outcome.after, before_header=header, after_header=header)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
