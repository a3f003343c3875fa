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
  - When O(src) holds a single certificate the chain must reach a root (self-signed, or from O(roots)), else
    the module fails naming the missing issuer and where it looked. When O(src) is a bundle, a chain that
    stops below the root (bundles rarely hold it) is accepted with a warning, unless a root is needed for
    O(root_path) or O(include_root_in_chain).
  - Files are rewritten only when their content would change, atomically, keeping their mode.
    The result passes M(certhygiene.tls.certificate_check) (no C(chain.leaf), C(chain.order), C(chain.required)).
author:
  - certhygiene developers (@certhygiene)
requirements:
  - cryptography >= 42
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode reports exactly the files a normal run would rewrite, and writes none.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: For each file, the subject, issuer, expiry and SHA-256 fingerprint of every certificate before and after.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  src:
    description:
      - The bundle or the lone certificate - a path on the managed node, or PEM content (any value
        containing C(-----BEGIN) is taken as content).
      - A file may be PEM, DER or PKCS#7. It may be the same file as O(certificate_path) (split in place).
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
        O(include_root_in_chain=true). An empty file when the leaf is self-signed.
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
notes:
  - Private keys found in O(src) are ignored and never written, logged or returned.
seealso:
  - module: certhygiene.tls.certificate_check
  - name: certhygiene split and certhygiene complete
    description: The same operations as commands.
    link: https://example.invalid/certhygiene/tls/README.md
"""

EXAMPLES = r"""
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
  description: The backup copies made (O(backup=true)).
  returned: success
  type: list
  elements: str
  sample: ["/etc/certs/cloud.crt.1234.2026-01-01@10:00:00~"]
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ..module_utils.certhygiene._crypto import CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY


def read_src(module):
    """(bytes, display name) of O(src): content when it holds a PEM armour line, else a path."""
    src = module.params["src"]
    if "-----BEGIN" in src:
        return src.encode("utf-8"), "src"
    path = src
    try:
        with open(path, "rb") as handle:
            return handle.read(), path
    except OSError as exc:
        module.fail_json(
            msg=f"src: cannot read {path} ({exc.strerror}). Give the path of the bundle or certificate, or its PEM content."
        )
    return None, None  # not reached


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
    certs = certificates_from_bytes(data)
    if not certs:
        return f"({len(data)} bytes, no certificate)\n" if data else ""
    return "".join(summary(cert) + "\n" for cert in certs)


def main():
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
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    from ..module_utils.certhygiene.chain import (
        ChainError,
        arrange,
        certificates_from_bytes,
        load_candidates,
        to_pem_chain,
    )
    from ..module_utils.certhygiene.facts import cert_label, describe_certificate, is_self_signed
    from ..module_utils.certhygiene.files import backup_file, read_optional, write_atomic

    params = module.params
    outputs = [(params["certificate_path"], "certificate_path"), (params["chain_path"], "chain_path")]
    if params["root_path"]:
        outputs.append((params["root_path"], "root_path"))
    seen = {}
    for path, option in outputs:
        real = os.path.realpath(path)
        if real in seen:
            module.fail_json(msg=f"{seen[real]} and {option} name the same file {path}; give each its own file.")
        seen[real] = option

    data, name = read_src(module)
    certs = certificates_from_bytes(data, name)
    if not certs:
        module.fail_json(msg=f"{name}: no certificate found (expected PEM, DER or PKCS#7 certificates).")
    try:
        candidates = load_candidates(params["intermediates"]) + load_candidates(params["roots"], trusted=True)
        result = arrange(
            certs,
            name,
            candidates=candidates,
            fetch=make_fetch() if params["fetch_aia"] else None,
            timeout=float(params["aia_timeout"]),
            looked_in=list(params["intermediates"]) + list(params["roots"]),
        )
    except ChainError as exc:
        module.fail_json(msg=f"{name}: {exc}")

    warnings = []
    bundle = len(certs) > 1
    if not result.complete:
        if not bundle or (len(result.path) == 1 and not is_self_signed(result.leaf)):
            module.fail_json(msg=f"{name}: {result.incomplete_message()}")
        if params["root_path"] or params["include_root_in_chain"]:
            option = "root_path" if params["root_path"] else "include_root_in_chain"
            module.fail_json(msg=f"{name}: {option} needs the root, but {result.incomplete_message()}")
        warnings.append(
            f"the chain ends at {cert_label(result.path[-1].cert)}; its issuer '{result.missing_issuer}' was not found (clients must trust it)"
        )
    elif result.root is None and (params["root_path"] or params["include_root_in_chain"]):
        module.fail_json(
            msg=f"{name}: no root certificate above {cert_label(result.leaf)} for root_path/include_root_in_chain (the path ends at a trusted "
            "certificate that is not self-signed, or the leaf is self-signed)."
        )
    for cert in result.unused:
        warnings.append(f"{cert_label(cert)} from {name} is not on the leaf's path; not written")
    for cert in result.expired:
        warnings.append(f"{cert_label(cert)} in the chain is expired or not yet valid (no valid issuer was found)")
    if params["roots"] and result.complete and not result.trusted:
        warnings.append(f"the chain ends at {cert_label(result.path[-1].cert)}, which is not among roots")
    warnings.extend(result.notes)

    chain = result.chain(include_root=params["include_root_in_chain"])
    wanted = [(params["certificate_path"], to_pem_chain([result.leaf])), (params["chain_path"], to_pem_chain(chain))]
    if params["root_path"]:
        wanted.append((params["root_path"], to_pem_chain([result.root])))

    files = {}
    diffs = []
    backups = []
    for path, content in wanted:
        before = read_optional(path)
        changed = before != content
        files[path] = changed
        if changed:
            diffs.append(
                dict(before_header=path, after_header=path, before=summarize(before), after=summarize(content))
            )
        if changed and not module.check_mode:
            mode = stat.S_IMODE(os.stat(path).st_mode) if before is not None else 0o644
            if params["backup"] and before is not None:
                backups.append(backup_file(path))
            try:
                write_atomic(path, content, mode)
            except OSError as exc:
                module.fail_json(msg=f"cannot write {path} ({exc.strerror}).")

    sources = dict((id(c.cert), c.source) for c in result.path)

    def facts(cert):
        info = describe_certificate(cert)
        info["source"] = sources.get(id(cert), name)
        return info

    for warning in warnings:
        module.warn(warning)
    module.exit_json(
        changed=any(files.values()),
        certificate=describe_certificate(result.leaf),
        chain=[facts(cert) for cert in chain],
        root=facts(result.root) if result.root is not None else {},
        complete=result.complete,
        trusted=result.trusted,
        unused=[describe_certificate(cert) for cert in result.unused],
        files=files,
        backup_files=backups,
        diff=diffs,
    )


if __name__ == "__main__":
    main()
