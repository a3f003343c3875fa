#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_check
short_description: Check a certificate, its chain and its private key against a deployment's import rules
version_added: 0.1.0
description:
  - Checks a server certificate, its certificate chain, its private key and, for two-way TLS, the client CA
    certificate against the certificate restrictions of a TLS deployment (with the C(seed) profile, RSA 1024 or
    2048 bit keys, X.509 v3, an FQDN or IP address, an issuer, a valid period with at least 180 days left,
    the chain included for CA-signed certificates and without the certificate itself, PEM encoding,
    an unencrypted private key that belongs to the certificate, the same key algorithm as the signing CA).
  - Every verdict comes from the certhygiene rule engine, the same rules the C(certhygiene) command, the
    pre-commit hooks and the sandbox deployment use. C(certhygiene rules) lists the catalog.
  - The module fails when a rule of error severity fails (or of warning severity with O(fail_on=warning)),
    with a message that lists the failing rules, files and certificates and says how to fix them.
  - It changes nothing; it returns the findings and facts about the certificate.
  - With O(paths) it checks files and folders of a repository as C(certhygiene check) and the pre-commit hooks do,
    with the same file selection and the same pairing of certificates with their chain, key and client CA.
    A C(bundles) list in the policy file comes first, then names such as C(x.crt), C(x.key) and C(x.chain.pem),
    then proof by signature (a CA certificate in the folder that issued the certificate is its chain).
    Findings are only about the files given.
author:
  - certhygiene developers (@certhygiene)
requirements:
  - cryptography >= 3.4.8 on the managed node (tested with 3.4.8, 36, 38, 41, 43 and the newest release)
  - PyYAML (only to read a policy file given in O(policy))
extends_documentation_fragment:
  - certhygiene.tls.policy
  - certhygiene.tls.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; a check mode run reports exactly what a normal run reports.
  diff_mode:
    support: none
    details: The module changes nothing, so there is no diff.
options:
  certificate_content:
    description:
      - The server certificate, PEM content.
      - Exactly one of O(certificate_content), O(certificate_path) and O(paths) is required.
    type: str
    aliases: [certificate]
  paths:
    description:
      - Files and folders on the managed node to check as a repository (folders - every certificate, chain and key
        file under them, found by name and content). Which files belong together is worked out as the
        C(certhygiene check) command does.
      - Mutually exclusive with the single-item options (O(certificate_content), O(chain_content),
        O(private_key_content) and their C(_path)).
    type: list
    elements: path
  vault_password:
    description:
      - Password of the Ansible Vault files among O(paths); they are decrypted in memory only.
      - Without it vault files are skipped (see O(fail_on_skipped)). A password that does not open a vault file
        fails the module, naming the file.
    type: str
  fail_on_skipped:
    description:
      - Fail when a file among O(paths) was skipped (a vault file without O(vault_password), a FIFO ...), for
        pipelines that must see everything.
    type: bool
    default: false
  certificate_path:
    description:
      - Path of the server certificate file on the managed node.
    type: path
  chain_content:
    description:
      - The certificate chain, PEM content (the intermediate certificates, without the server certificate).
    type: str
    aliases: [chain]
  chain_path:
    description:
      - Path of the certificate chain file on the managed node.
    type: path
  private_key_content:
    description:
      - The private key of the certificate, PEM content. It is never logged nor returned.
    type: str
    aliases: [private_key]
  private_key_path:
    description:
      - Path of the private key file on the managed node.
    type: path
  client_ca_certificate_content:
    description:
      - The client CA certificate, PEM content. Needed for two-way TLS (O(auth_type=two-way)).
    type: str
    aliases: [client_ca_certificate]
  client_ca_certificate_path:
    description:
      - Path of the client CA certificate file on the managed node.
    type: path
  auth_type:
    description:
      - V(one-way) checks certificate, chain and key; V(two-way) also requires a client CA certificate.
    type: str
    choices: [one-way, two-way]
    default: one-way
  fail_on:
    description:
      - The lowest severity of a finding that makes the module fail.
    type: str
    choices: [error, warning]
    default: error
notes:
  - The module reads the files on the managed node. Content options take precedence in no case;
    give either the content or the path of each item.
seealso:
  - name: certhygiene rule catalog
    description: C(certhygiene rules) prints every rule with its id, severity, citation and fix.
    link: https://example.invalid/certhygiene/tls/README.md
"""

EXAMPLES = r"""
- name: Check the server certificate, chain and key before uploading them
  certhygiene.tls.certificate_check:
    certificate_path: /etc/certs/cloud.crt
    chain_path: /etc/certs/cloud-chain.pem
    private_key_path: /etc/certs/cloud.key
  register: tls_check

- name: Show when the certificate expires
  ansible.builtin.debug:
    msg: "{{ tls_check.certificate.subject }} expires {{ tls_check.certificate.not_after }}"

- name: Check content for two-way TLS with today's cloud rules, failing on warnings too
  certhygiene.tls.certificate_check:
    certificate: "{{ lookup('ansible.builtin.file', 'cloud.crt') }}"
    chain: "{{ lookup('ansible.builtin.file', 'cloud-chain.pem') }}"
    private_key: "{{ vault_cloud_key }}"
    client_ca_certificate: "{{ lookup('ansible.builtin.file', 'client-ca.crt') }}"
    auth_type: two-way
    profile: emqx-cloud
    fail_on: warning

- name: Check a folder of certificates as the pre-commit hooks do (vault files decrypted in memory)
  certhygiene.tls.certificate_check:
    paths:
      - /srv/repo/certs
    policy: /srv/repo/.certhygiene.yaml
    vault_password: "{{ vault_password }}"
    fail_on_skipped: true

- name: Allow a shorter remaining validity for a staging deployment
  certhygiene.tls.certificate_check:
    certificate_path: /etc/certs/staging.crt
    chain_path: /etc/certs/staging-chain.pem
    private_key_path: /etc/certs/staging.key
    policy_overrides:
      min_days_left: 30
"""

RETURN = r"""
findings:
  description:
    - Every rule that failed, errors first. Empty when the material is clean.
  returned: always
  type: list
  elements: dict
  contains:
    rule_id:
      description: The stable id of the rule, see C(certhygiene rules).
      type: str
      sample: chain.leaf
    severity:
      description: V(error) or V(warning).
      type: str
      sample: error
    path:
      description: The file, or the option name when content was given.
      type: str
      sample: /etc/certs/cloud-chain.pem
    line:
      description: The line of the offending PEM block, 0 for the whole file.
      type: int
      sample: 1
    end_line:
      description: The last line of the offending PEM block.
      type: int
      sample: 21
    message:
      description: What is wrong, naming the certificate by subject and serial.
      type: str
      sample: "the chain holds the certificate 'CN=mqtt.example.com' (serial 0x1f) itself"
    hint:
      description: How to fix it.
      type: str
      sample: Remove the server certificate from the chain file.
    subject:
      description: Subject of the certificate the finding is about, if any.
      type: str
      sample: CN=mqtt.example.com
    serial:
      description: Serial number of that certificate, if any.
      type: str
      sample: "0x1f"
error_count:
  description: Number of findings of severity error.
  returned: always
  type: int
  sample: 0
warning_count:
  description: Number of findings of severity warning.
  returned: always
  type: int
  sample: 1
certificate:
  description: Facts about the server certificate (public data only). Empty when it cannot be read.
  returned: always
  type: dict
  contains:
    subject:
      description: The subject, RFC 4514.
      type: str
      sample: CN=mqtt.example.com,O=EMQ X Cloud
    common_name:
      description: The subject's common name.
      type: str
      sample: mqtt.example.com
    issuer:
      description: The issuer, RFC 4514.
      type: str
      sample: CN=CA,O=EMQ X Cloud
    serial:
      description: The serial number in hexadecimal.
      type: str
      sample: "0x1f"
    version:
      description: The X.509 version (1 or 3).
      type: int
      sample: 3
    subject_alt_names:
      description: The subjectAltName entries.
      type: list
      elements: str
      sample: ["DNS:mqtt.example.com"]
    not_before:
      description: Start of the validity period, ISO 8601.
      type: str
      sample: "2026-01-01T00:00:00+00:00"
    not_after:
      description: End of the validity period, ISO 8601.
      type: str
      sample: "2036-01-01T00:00:00+00:00"
    days_left:
      description: Whole days until O(certificate) expires.
      type: int
      sample: 3650
    key_type:
      description: The public key's algorithm.
      type: str
      sample: RSA
    key_size:
      description: The public key's size in bits.
      type: int
      sample: 2048
    key_name:
      description: The key as import restrictions name it.
      type: str
      sample: RSA_2048
    is_ca:
      description: Whether the certificate is a CA certificate.
      type: bool
      sample: false
    self_signed:
      description: Whether subject and issuer are the same.
      type: bool
      sample: false
    fingerprint_sha256:
      description: SHA-256 fingerprint of the DER certificate.
      type: str
      sample: "AB:CD:..."
    fingerprint_sha1:
      description: SHA-1 fingerprint of the DER certificate.
      type: str
      sample: "AB:CD:..."
chain:
  description: Facts about each certificate of the chain, in file order (same keys as RV(certificate)).
  returned: always
  type: list
  elements: dict
files_checked:
  description: The files checked (the single items' names, or the files found under O(paths)).
  returned: always
  type: list
  elements: str
skipped_files:
  description: Files of O(paths) that were not checked, with the reason (vault files without a password ...).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    reason:
      description: Why it was skipped.
      type: str
policy:
  description: The profile the material was checked against.
  returned: always
  type: str
  sample: seed
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.module_inputs import material_declarations, material_options, quiet_library_warnings, read_material
from ..module_utils.module_policy import POLICY_ARGS, load_module_policy

# The items the module checks: (option name, argument of the engine's check_material).
ITEMS = (
    ("certificate", "certificate"),
    ("chain", "chain"),
    ("private_key", "private_key"),
    ("client_ca_certificate", "client_ca"),
)


def chain_facts(data, name):
    """Facts (public data only) about every readable certificate of the chain, in file order."""
    from ..module_utils.certhygiene.facts import describe_certificate
    from ..module_utils.certhygiene.material import read_bytes

    facts = []
    for block in read_bytes(data, name).certificates:
        try:
            facts.append(describe_certificate(block.certificate))
        except ValueError:  # a malformed extension: the findings report it
            continue
    return facts


def main():
    quiet_library_warnings()
    material_spec, constraints = material_declarations(
        material_options("certificate", aliases=("certificate",), required=True, or_else=("paths",)),
        material_options("chain", aliases=("chain",)),
        material_options("private_key", aliases=("private_key",), secret=True),
        material_options("client_ca_certificate", aliases=("client_ca_certificate",)),
    )
    argument_spec = dict(
        **material_spec,
        auth_type=dict(type="str", default="one-way", choices=["one-way", "two-way"]),
        **POLICY_ARGS,
        fail_on=dict(type="str", default="error", choices=["error", "warning"]),
        paths=dict(type="list", elements="path"),
        vault_password=dict(type="str", no_log=True),
        fail_on_skipped=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=constraints["mutually_exclusive"] + [("paths", single) for single in material_spec],
        required_one_of=constraints["required_one_of"],
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    from ..module_utils.certhygiene.check import check_material

    policy = load_module_policy(module)
    if module.params["paths"] is not None:
        check_repository(module, policy)

    material = {}
    names = {}
    for option, argument in ITEMS:
        data, name = read_material(module, option + "_content", option + "_path", max_bytes=policy.max_file_size)
        material[argument] = data
        if name is not None:
            names[argument] = name

    report = check_material(
        certificate=material["certificate"],
        chain=material["chain"],
        private_key=material["private_key"],
        client_ca=material["client_ca"],
        auth_type=module.params["auth_type"],
        policy=policy,
        names=names,
    )
    result = dict(
        changed=False,
        findings=[finding.as_dict() for finding in report.findings],
        error_count=len(report.errors),
        warning_count=len(report.warnings),
        certificate=report.facts,
        chain=chain_facts(material["chain"], names["chain"]) if material["chain"] is not None else [],
        files_checked=list(report.files_checked),
        skipped_files=[],
        policy=policy.profile,
    )
    finish(module, report, result)


def check_repository(module, policy):
    """O(paths): the engine's repository check, as the CLI and the hooks run it."""
    import os

    from ..module_utils.certhygiene.check import check_paths

    paths = module.params["paths"]
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        module.fail_json(msg=f"paths: no such file or folder: {', '.join(missing)}. Fix the paths.")
    root = os.path.dirname(os.path.abspath(module.params["policy"])) if module.params["policy"] else os.getcwd()
    report = check_paths(paths, policy, root=root, vault_password=module.params["vault_password"])
    result = dict(
        changed=False,
        findings=[finding.as_dict() for finding in report.findings],
        error_count=len(report.errors),
        warning_count=len(report.warnings),
        certificate={},
        chain=[],
        files_checked=list(report.files_checked),
        skipped_files=[{"path": path, "reason": reason} for path, reason in report.skipped],
        policy=policy.profile,
    )
    if report.input_errors:
        lines = [f"{path}: {message}" for path, message in report.input_errors]
        module.fail_json(msg=f"{len(lines)} input error(s):\n" + "\n".join(lines), **result)
    if module.params["fail_on_skipped"] and report.skipped:
        lines = [f"{path}: skipped: {reason}" for path, reason in report.skipped]
        module.fail_json(
            msg=f"{len(lines)} file(s) skipped and fail_on_skipped is set (give vault_password, or leave them out):\n"
            + "\n".join(lines),
            **result,
        )
    finish(module, report, result)


def finish(module, report, result):
    """Fail when a finding reaches O(fail_on), else exit with the result."""
    fail_on = module.params["fail_on"]
    if report.failed(fail_on):
        failing = report.errors if fail_on == "error" else report.findings
        lines = [f"{f.path}: [{f.rule_id}] {f.message} Fix: {f.hint}" for f in failing]
        result["msg"] = f"{len(failing)} finding(s) at or above severity {fail_on}:\n" + "\n".join(lines)
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
