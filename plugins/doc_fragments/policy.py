# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy options every module that judges keys or certificates takes."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  profile:
    description:
      - The named policy (the deployment's import restrictions) to apply.
      - V(seed) enforces exactly the restrictions of the deployment's documentation (RSA 1024 or 2048 bit keys,
        X.509 v3, an FQDN or IP address, at least 180 days of validity left, PEM, an unencrypted key),
        V(emqx-cloud) today's published rules (also ECDSA P-256 and P-384), V(strict) refuses RSA 1024,
        requires subjectAltName and warns before expiry.
      - Defaults to the profile the O(policy) file names, else V(seed).
    type: str
    choices: [seed, emqx-cloud, strict]
  policy:
    description:
      - Path of a policy file (the C(.certhygiene.yaml) format of the pre-commit hooks and the C(certhygiene)
        command) on the managed node.
    type: path
  policy_overrides:
    description:
      - Policy settings that override the profile and the policy file, in the policy file's format
        (for example C(allowed_keys), C(min_days_left), C(max_file_size), C(severity) or C(ignore)).
    type: dict
"""
