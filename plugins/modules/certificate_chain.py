#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: certificate_chain
short_description: Split a certificate bundle, or complete a certificate's chain, into certificate and chain files
version_added: 0.1.0
description:
  - Puts what a user has (a bundle bought from a CA, or a lone certificate) into the shape a TLS deployment
    needs - the server certificate alone in O(certificate_path), the intermediate certificates in issuing
    order in O(chain_path) (never the server certificate itself), and optionally the root in O(root_path).
  - B(Split.) When O(src) holds several certificates (in any order, with duplicates and text between the
    blocks), the module finds the leaf (the certificate that issued no other one of the bundle, an
    end-entity certificate) and orders the others from the leaf up. Certificates of the bundle that are not
    on the leaf's path are reported in RV(unused) and left out.
  - B(Complete.) Issuers missing from O(src) are looked for in O(intermediates) and O(roots) (files and
    folders) and, with O(fetch_aia=true), downloaded from the AIA C(caIssuers) URL of each certificate
    (C(http://) only; DER, PEM or PKCS#7; with a timeout and a size limit).
  - Path building verifies every signature (RSA PKCS#1 v1.5 and PSS, ECDSA, EdDSA) and backtracks - several
    candidate issuers with the same subject, cross-signed intermediates, expired candidates and cycles do
    not stop it. It prefers a path that ends at a root from O(roots) with no expired certificate, then one
    that ends at any self-signed root, and uses expired candidates only as a last resort (with a warning).
  - When no issuer of a CA-signed leaf is found at all, the module fails naming the missing issuer and where it
    looked. A chain that stops below the root (bundles rarely hold it) is accepted with a warning, unless a root
    is needed for O(root_path) or O(include_root_in_chain).
  - When the leaf was issued directly by a self-signed CA (no intermediate), that CA B(is) the chain and goes to
    O(chain_path) (the deployment needs the server CA). The split is the one C(certhygiene split),
    C(certhygiene complete) and the C(split-certificate-bundles) hook make, so the four never disagree.
  - Files are rewritten only when their content would change, all or nothing - every new content goes to a
    temporary file beside its target, then all are renamed; if one rename fails the others are put back, so a
    failed task leaves every file as it was. An existing file keeps its mode; a new one gets C(0644).
  - Nothing is lost. The module fails, changing nothing, when an output holds a private key (or an Ansible Vault
    file), or is O(src) itself and its content would change, unless O(force=true) (then a backup copy is kept);
    when two outputs name the same file; and when an output is a folder, a special file or in a folder that does
    not exist. A symbolic link is written through to its target (the link stays).
  - The result passes M(certhygiene.tls.certificate_check) (no C(chain.leaf), C(chain.order), C(chain.required)).
author:
  - certhygiene developers (@certhygiene)
requirements:
  - cryptography >= 3.4.8 on the managed node (tested with 3.4.8, 36, 38, 41, 43 and the newest release)
extends_documentation_fragment:
  - certhygiene.tls.attributes
attributes:
  check_mode:
    support: full
    details: Check mode reports exactly the files a normal run would rewrite, and writes none.
  diff_mode:
    support: full
    details: For each file, the subject, issuer, expiry and SHA-256 fingerprint of every certificate before and after.
options:
  src:
    description:
      - The bundle or the lone certificate - a path on the managed node, or PEM content (any value
        containing C(-----BEGIN) is taken as content).
      - A file may be PEM, DER or PKCS#7. It may be the same file as O(certificate_path); splitting a bundle in
        place (which rewrites O(src)) needs O(force=true), and then a backup of O(src) is kept.
    type: str
    required: true
  certificate_path:
    description:
      - Where the leaf certificate goes (PEM).
    type: path
    required: true
  chain_path:
    description:
      - Where the chain goes - the intermediate certificates in issuing order (PEM), the root only with
        O(include_root_in_chain=true); the issuing CA itself when the leaf was issued directly by a self-signed
        CA. An empty file when the leaf is self-signed.
    type: path
    required: true
  root_path:
    description:
      - Where the root certificate goes (PEM). The module fails when no root can be found.
    type: path
  intermediates:
    description:
      - Files and folders holding candidate issuers (a folder - its files, not recursively, hidden files
        skipped, files that hold no certificate ignored).
    type: list
    elements: path
    default: []
  roots:
    description:
      - Files and folders holding the roots you trust. A path ending at one of them is preferred.
    type: list
    elements: path
    default: []
  fetch_aia:
    description:
      - Download missing issuers from the AIA C(caIssuers) URLs of the certificates (C(http://) only).
      - Downloads happen only when the local candidates do not give a complete path.
    type: bool
    default: true
  aia_timeout:
    description:
      - Seconds to wait for each AIA download.
    type: int
    default: 10
  include_root_in_chain:
    description:
      - Append the root to O(chain_path). Deployments normally do not want it; clients already trust it.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of every file the module rewrites.
    type: bool
    default: false
  force:
    description:
      - Replace an output that holds a private key, or that is O(src) itself. A backup copy of such a file is
        always kept (C(FILE.<pid>.<YYYY-MM-DD@HH:MM:SS>~), mode C(0600) for a key).
      - Without it the module fails and changes nothing.
    type: bool
    default: false
notes:
  - Private keys found in O(src) are ignored and never written, logged or returned.
seealso:
  - module: certhygiene.tls.certificate_check
  - name: certhygiene split and certhygiene complete
    description: The same operations as commands.
    link: https://example.invalid/certhygiene/tls/README.md
"""

EXAMPLES = r"""
- name: Split a bundle in place (the file keeps the leaf; a backup of the bundle is kept)
  certhygiene.tls.certificate_chain:
    src: /etc/certs/cloud.crt
    certificate_path: /etc/certs/cloud.crt
    chain_path: /etc/certs/cloud-chain.pem
    force: true

- name: Split a purchased bundle (user certificate, intermediates, root) into certificate and chain
  certhygiene.tls.certificate_chain:
    src: /etc/certs/purchased-bundle.crt
    certificate_path: /etc/certs/cloud.crt
    chain_path: /etc/certs/cloud-chain.pem
    root_path: /etc/certs/cloud-root.pem

- name: Complete the chain of a lone certificate from a folder of intermediates and the system roots
  certhygiene.tls.certificate_chain:
    src: /etc/certs/cloud.crt
    certificate_path: /etc/certs/cloud.crt
    chain_path: /etc/certs/cloud-chain.pem
    intermediates:
      - /etc/certs/intermediates
    roots:
      - /etc/ssl/certs
    fetch_aia: false

- name: Complete from content, downloading issuers from AIA URLs
  certhygiene.tls.certificate_chain:
    src: "{{ lookup('ansible.builtin.file', 'cloud.crt') }}"
    certificate_path: /etc/certs/cloud.crt
    chain_path: /etc/certs/cloud-chain.pem
    backup: true
  register: tls_chain

- name: Show the chain
  ansible.builtin.debug:
    msg: "{{ tls_chain.chain | map(attribute='subject') | list }}"
"""

RETURN = r"""
certificate:
  description: Facts about the leaf certificate (public data only).
  returned: success
  type: dict
  contains:
    subject:
      description: The subject, RFC 4514.
      type: str
      sample: CN=mqtt.example.com,O=EMQ X Cloud
    issuer:
      description: The issuer, RFC 4514.
      type: str
      sample: CN=Example Intermediate CA
    serial:
      description: The serial number in hexadecimal.
      type: str
      sample: "0x1f"
    not_after:
      description: End of the validity period, ISO 8601.
      type: str
      sample: "2036-01-01T00:00:00+00:00"
    fingerprint_sha256:
      description: SHA-256 fingerprint of the DER certificate.
      type: str
      sample: "AB:CD:..."
chain:
  description:
    - Facts about each certificate written to O(chain_path), in order (same keys as RV(certificate),
      and C(source), the file, AIA URL or O(src) it came from).
  returned: success
  type: list
  elements: dict
root:
  description: Facts about the root that ends the path (same keys as RV(certificate)); empty when none was found.
  returned: success
  type: dict
complete:
  description: Whether the path ends at a root (self-signed, or from O(roots)).
  returned: success
  type: bool
  sample: true
trusted:
  description: Whether the path ends at a certificate from O(roots).
  returned: success
  type: bool
  sample: false
unused:
  description: Certificates of O(src) that are not on the leaf's path and were not written.
  returned: success
  type: list
  elements: dict
files:
  description: The files the module manages and whether each was (or in check mode would be) rewritten.
  returned: success
  type: dict
  sample: {"/etc/certs/cloud.crt": true, "/etc/certs/cloud-chain.pem": false}
backup_files:
  description: The backup copies made (O(backup=true), or O(force=true) replacing a key or O(src)).
  returned: success
  type: list
  elements: str
  sample: ["/etc/certs/cloud.crt.1234.2026-01-01@10:00:00~"]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, CRYPTOGRAPHY_REQUIREMENT, HAS_CRYPTOGRAPHY
from ..module_utils.module_inputs import quiet_library_warnings, read_path


def read_src(module):
    """(bytes, display name) of O(src): content when it holds a PEM armour line, else a path."""
    src = module.params["src"]
    if "-----BEGIN" in src:
        return src.encode("utf-8"), "src"
    path = src
    return read_path(module, "src", path, "Give the path of the bundle or certificate, or its PEM content."), path


def make_fetch():
    """An AIA transport over ansible.module_utils.urls (proxies and settings as Ansible uses them)."""
    from ansible.module_utils.urls import open_url

    def fetch(url, timeout, max_bytes):
        response = open_url(url, timeout=timeout, follow_redirects="safe", http_agent="certhygiene")
        try:
            return response.read(max_bytes + 1)
        finally:
            response.close()

    return fetch


def summarize(data):
    """One line per certificate in ``data`` (for diffs), or a short note when it holds none."""
    from ..module_utils.certhygiene.chain import certificates_from_bytes, summary

    if data is None:
        return ""
    certs = certificates_from_bytes(data, problems=[])  # a summary for a diff: what cannot be read is left out
    if not certs:
        return f"({len(data)} bytes, no certificate)\n" if data else ""
    return "".join(summary(cert) + "\n" for cert in certs)


def main():
    quiet_library_warnings()
    argument_spec = dict(
        src=dict(type="str", required=True),
        certificate_path=dict(type="path", required=True),
        chain_path=dict(type="path", required=True),
        root_path=dict(type="path"),
        intermediates=dict(type="list", elements="path", default=[]),
        roots=dict(type="list", elements="path", default=[]),
        fetch_aia=dict(type="bool", default=True),
        aia_timeout=dict(type="int", default=10),
        include_root_in_chain=dict(type="bool", default=False),
        backup=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib(CRYPTOGRAPHY_REQUIREMENT), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    from ..module_utils.certhygiene.chain import ChainError, chain_outcome, load_candidates, to_pem_chain
    from ..module_utils.certhygiene.facts import cert_label, describe_certificate
    from ..module_utils.certhygiene.files import Output, WriteError, write_outputs

    params = module.params
    data, name = read_src(module)
    try:
        candidates = load_candidates(params["intermediates"]) + load_candidates(params["roots"], trusted=True)
        outcome = chain_outcome(
            data,
            name,
            candidates=candidates,
            fetch=make_fetch() if params["fetch_aia"] else None,
            timeout=float(params["aia_timeout"]),
            looked_in=list(params["intermediates"]) + list(params["roots"]),
            include_root=params["include_root_in_chain"],
            want_root=bool(params["root_path"]),
        )
    except ChainError as exc:
        module.fail_json(msg=f"{name}: {exc}")

    warnings = list(outcome.notes)
    if params["roots"] and outcome.complete and not outcome.trusted:
        warnings.append(f"the chain ends at {cert_label(outcome.path[-1].cert)}, which is not among roots")

    chain = outcome.chain
    outputs = [
        Output(params["certificate_path"], to_pem_chain([outcome.leaf]), "certificate_path"),
        Output(params["chain_path"], to_pem_chain(chain), "chain_path"),
    ]
    if params["root_path"]:
        outputs.append(Output(params["root_path"], to_pem_chain([outcome.root]), "root_path"))
    try:
        written = write_outputs(
            outputs,
            inputs=[] if name == "src" else [name],
            force=params["force"],
            force_hint="force: true",
            backup=params["backup"],
            check_mode=module.check_mode,
        )
    except WriteError as exc:
        module.fail_json(msg=str(exc))

    files = {}
    diffs = []
    for item in written.planned:
        files[item.path] = item.changed
        if item.changed:
            diffs.append(
                dict(
                    before_header=item.path,
                    after_header=item.path,
                    before=summarize(item.before),
                    after=summarize(item.output.data),
                )
            )

    def facts(cert):
        info = describe_certificate(cert)
        info["source"] = outcome.source_of(cert) or name
        return info

    for warning in warnings:
        module.warn(warning)
    module.exit_json(
        changed=any(files.values()),
        certificate=describe_certificate(outcome.leaf),
        chain=[facts(cert) for cert in chain],
        root=facts(outcome.root) if outcome.root is not None else {},
        complete=outcome.complete,
        trusted=outcome.trusted,
        unused=[describe_certificate(cert) for cert in outcome.unused],
        files=files,
        backup_files=list(written.backups.values()),
        diff=diffs,
    )


if __name__ == "__main__":
    main()
