# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policies: which rules run, with which parameters and severities.

A policy starts from a named profile and is then changed by a policy file
(``.certhygiene.yaml`` at the repository root, or any file given as ``path``)
and last by ``overrides`` (a mapping with the same keys as the file, which is how
Ansible modules pass settings). Format of the file::

    profile: seed                 # seed (default) | emqx-cloud | strict
    allowed_keys: [RSA_2048, EC_prime256v1]   # key.algorithm: RSA_<bits>, EC_<curve>, Ed25519 ...
    key_formats: [pkcs1, pkcs8]   # pem.encoding: PEM private key formats accepted (pkcs1 pkcs8 sec1 openssh dsa)
    min_days_left: 180            # cert.validity: error below this many days of remaining validity
    warn_days: 210                # cert.validity: warning below this many days (0 = no warning window)
    identity_from_cn: true        # cert.identity: accept an FQDN/IP in the CN when the SAN has none
    chain_files: ["*.ca", "certs/ca-*.pem"]   # more chain files, beside *chain* *bundle* *intermediate*
    max_file_size: 16M            # files larger than this are not read (a pem.encoding finding names them)
    severity: {key.weak: error}   # change a rule's severity (error | warning)
    rules: {cert.validity: false} # switch rules off; true switches them on (and opt-in rules: key.plaintext)
    ignore:                       # ignore rules on some paths (globs, repository-relative, ** allowed)
      - rule: cert.validity       # a rule id, or "*" for every rule
        paths: ["tests/fixtures/**"]
    bundles:                      # which files belong together, said explicitly (nothing is guessed for them)
      - certificate: deploy/server.pem        # paths relative to the policy file's folder
        chain: deploy/ca-bundle.pem           # optional
        private_key: deploy/server-key.pem    # optional
        client_ca: deploy/clients-ca.pem      # optional (two-way TLS)

Any unknown key or bad value raises ``PolicyError`` naming the file and the fix.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._record import Record
from .findings import ERROR, SEVERITIES, WARNING
from .inputs import DEFAULT_MAX_BYTES, POLICY_MAX_BYTES, InputError, TooLarge, format_size, parse_size, read_regular

POLICY_FILE = ".certhygiene.yaml"
POLICY_FILES = (".certhygiene.yaml", ".certhygiene.yml")
DEFAULT_PROFILE = "seed"
KEY_FORMATS = ("pkcs1", "pkcs8", "sec1", "openssh", "dsa")
_KEY_NAME = r"^(RSA_[0-9]{3,5}|DSA_[0-9]{3,5}|EC_[A-Za-z0-9]+|Ed25519|Ed448)$"  # compiled when a policy file names keys


class PolicyError(ValueError):
    """A policy file or setting that cannot be used; the message names the file and the fix."""


class Ignore(Record):
    """Ignore ``rule`` (an id or ``*``) on files matching any of ``paths``. Treat as immutable."""

    __slots__ = _fields = ("rule", "paths")

    rule: str
    paths: tuple[str, ...]

    def __init__(self, rule: str, paths: tuple[str, ...]) -> None:
        self.rule = rule
        self.paths = paths

    def matches(self, rule_id: str, path: str) -> bool:
        if self.rule not in ("*", rule_id):
            return False
        return any(path_matches(path, pattern) for pattern in self.paths)


BUNDLE_PARTS = ("certificate", "chain", "private_key", "client_ca")


class Bundle(Record):
    """Files that belong together, as the policy file says (``bundles:``); paths as written there. Treat as
    immutable."""

    __slots__ = _fields = BUNDLE_PARTS

    certificate: str
    chain: str | None
    private_key: str | None
    client_ca: str | None

    def __init__(
        self, certificate: str, chain: str | None = None, private_key: str | None = None, client_ca: str | None = None
    ) -> None:
        self.certificate = certificate
        self.chain = chain
        self.private_key = private_key
        self.client_ca = client_ca


class Policy(Record):
    """The settings every door (hook, CLI, module, sandbox) hands to the engine. Treat as immutable: ``replace``
    makes a changed copy."""

    __slots__ = _fields = (
        "profile",
        "allowed_keys",
        "key_formats",
        "min_days_left",
        "warn_days",
        "identity_from_cn",
        "chain_files",
        "severity",
        "disabled",
        "enabled_rules",
        "ignore",
        "max_file_size",
        "bundles",
        "source",
    )

    profile: str
    allowed_keys: tuple[str, ...]
    key_formats: tuple[str, ...]
    min_days_left: int
    warn_days: int
    identity_from_cn: bool
    chain_files: tuple[str, ...]
    severity: Mapping[str, str]
    disabled: frozenset[str]
    enabled_rules: frozenset[str]  # opt-in rules switched on
    ignore: tuple[Ignore, ...]
    max_file_size: int  # bytes: larger files are not read
    bundles: tuple[Bundle, ...]
    source: str | None  # the policy file it was read from, if any

    def __init__(
        self,
        profile: str = DEFAULT_PROFILE,
        allowed_keys: tuple[str, ...] = ("RSA_1024", "RSA_2048"),
        key_formats: tuple[str, ...] = ("pkcs1", "pkcs8"),
        min_days_left: int = 180,
        warn_days: int = 0,
        identity_from_cn: bool = True,
        chain_files: tuple[str, ...] = (),
        severity: Mapping[str, str] | None = None,  # None: a new empty dict
        disabled: frozenset[str] = frozenset(),
        enabled_rules: frozenset[str] = frozenset(),
        ignore: tuple[Ignore, ...] = (),
        max_file_size: int = DEFAULT_MAX_BYTES,
        bundles: tuple[Bundle, ...] = (),
        source: str | None = None,
    ) -> None:
        self.profile = profile
        self.allowed_keys = allowed_keys
        self.key_formats = key_formats
        self.min_days_left = min_days_left
        self.warn_days = warn_days
        self.identity_from_cn = identity_from_cn
        self.chain_files = chain_files
        self.severity = {} if severity is None else severity
        self.disabled = disabled
        self.enabled_rules = enabled_rules
        self.ignore = ignore
        self.max_file_size = max_file_size
        self.bundles = bundles
        self.source = source

    def enabled(self, rule_id: str, default: bool = True) -> bool:
        """Whether the rule runs: switched off or on by the policy, else its default (False for opt-in rules)."""
        if rule_id in self.disabled:
            return False
        return rule_id in self.enabled_rules or default

    def severity_of(self, rule_id: str, default: str) -> str:
        return self.severity.get(rule_id, default)

    def ignored(self, rule_id: str, path: str) -> bool:
        return any(entry.matches(rule_id, path) for entry in self.ignore)

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "allowed_keys": list(self.allowed_keys),
            "key_formats": list(self.key_formats),
            "min_days_left": self.min_days_left,
            "warn_days": self.warn_days,
            "identity_from_cn": self.identity_from_cn,
            "chain_files": list(self.chain_files),
            "severity": dict(sorted(self.severity.items())),
            "rules": {rule_id: rule_id in self.enabled_rules for rule_id in sorted(self.disabled | self.enabled_rules)},
            "ignore": [{"rule": entry.rule, "paths": list(entry.paths)} for entry in self.ignore],
            "max_file_size": self.max_file_size,
            "bundles": [
                {part: getattr(b, part) for part in BUNDLE_PARTS if getattr(b, part) is not None} for b in self.bundles
            ],
            "source": self.source,
        }


# The named profiles. ``seed`` is exactly the restrictions of the seed document
# (RSA 1024/2048 only; at least 180 days of validity left, as DESIGN.md reads it).
PROFILES: dict[str, Policy] = {
    "seed": Policy(profile="seed"),
    "emqx-cloud": Policy(
        profile="emqx-cloud",
        allowed_keys=("RSA_1024", "RSA_2048", "EC_prime256v1", "EC_secp384r1"),
        key_formats=("pkcs1", "pkcs8"),
    ),
    "strict": Policy(
        profile="strict",
        allowed_keys=("RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1"),
        key_formats=("pkcs1", "pkcs8"),
        warn_days=210,
        identity_from_cn=False,
    ),
}

_KEYS = (
    "profile",
    "allowed_keys",
    "key_formats",
    "min_days_left",
    "warn_days",
    "identity_from_cn",
    "chain_files",
    "severity",
    "rules",
    "ignore",
    "max_file_size",
    "bundles",
)


def path_matches(path: str, pattern: str) -> bool:
    """Glob match on a forward-slash path; ``**`` spans folders; a pattern without ``/`` matches the basename."""
    path = path.replace(os.sep, "/")
    while path.startswith("./"):
        path = path[2:]
    if "/" not in pattern:
        return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)
    return re.fullmatch(_glob_regex(pattern), path) is not None


def _glob_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def find_policy_file(root: str | None = None) -> str | None:
    """The policy file at ``root`` (default: the current folder), if there is one."""
    folder = root or os.getcwd()
    for name in POLICY_FILES:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def load_policy(
    profile: str | None = None,
    path: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    root: str | None = None,
    discover: bool = True,
) -> Policy:
    """Build the policy: profile, then the policy file, then ``overrides``.

    ``profile`` given here wins over the file's ``profile:``. Without ``path`` the
    file ``.certhygiene.yaml`` is looked for in ``root`` (default: the current
    folder) unless ``discover`` is False (modules pass False: their working folder
    is not a repository).
    """
    if path is None and discover:
        path = find_policy_file(root)
    settings: dict[str, Any] = {}
    if path is not None:
        settings = _read_file(path)
    where = path or "the policy settings"
    name = profile or settings.get("profile") or DEFAULT_PROFILE
    if overrides and overrides.get("profile") and not profile:
        name = overrides["profile"]
    policy = _profile(name, where)
    policy = _apply(policy, settings, where)
    if overrides:
        # None means "not set" (unset Ansible options arrive as None).
        policy = _apply(policy, {k: v for k, v in overrides.items() if v is not None}, "the policy overrides")
    if path is not None:
        policy = policy.replace(source=path)
    return policy


def _profile(name: Any, where: str) -> Policy:
    if not isinstance(name, str) or name not in PROFILES:
        raise PolicyError(
            f"{where}: unknown profile {name!r}; use one of: {', '.join(PROFILES)} (e.g. 'profile: seed')"
        )
    return PROFILES[name]


def _yaml() -> Any:
    """PyYAML, imported only when a policy file is read: importing it costs ~15 ms, a tenth of a hook run.
    Guarded: ansible-test's import sanity imports module_utils without third-party libraries."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - exercised by ansible-test's import sandbox
        return None
    return yaml


def _read_file(path: str) -> dict[str, Any]:
    yaml = _yaml()
    if yaml is None:
        raise PolicyError(f"{path}: reading a policy file needs PyYAML; install it with 'pip install PyYAML'")
    try:
        data = yaml.safe_load(read_regular(path, POLICY_MAX_BYTES).decode("utf-8"))
    except TooLarge:
        raise PolicyError(
            f"{path}: the policy file is larger than {format_size(POLICY_MAX_BYTES)}, so it was not read; "
            "a policy is a few dozen lines: check the path"
        ) from None
    except InputError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.reason}); check the path") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(
            f"{path}: not valid YAML{where}; fix the syntax (a mapping such as 'profile: seed')"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: the policy file must be a mapping of settings (e.g. 'profile: seed')")
    return data


def _apply(policy: Policy, settings: Mapping[str, Any], where: str) -> Policy:
    from .rules import RULES  # local: rules imports nothing from here, but keep the import graph one-way

    unknown = sorted(str(k) for k in settings if k not in _KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown setting(s) {', '.join(unknown)}; the settings are: {', '.join(_KEYS)}")
    changes: dict[str, Any] = {}
    if "allowed_keys" in settings:
        keys = _string_list(settings["allowed_keys"], "allowed_keys", where)
        bad = [k for k in keys if not re.match(_KEY_NAME, k)]
        if bad:
            raise PolicyError(
                f"{where}: allowed_keys: unknown key name(s) {', '.join(bad)}; "
                "write RSA_<bits>, EC_<curve> (EC_prime256v1, EC_secp384r1), Ed25519 or Ed448"
            )
        changes["allowed_keys"] = tuple(keys)
    if "key_formats" in settings:
        formats = _string_list(settings["key_formats"], "key_formats", where)
        bad = [f for f in formats if f not in KEY_FORMATS]
        if bad:
            raise PolicyError(f"{where}: key_formats: unknown format(s) {', '.join(bad)}; use {', '.join(KEY_FORMATS)}")
        changes["key_formats"] = tuple(formats)
    for number in ("min_days_left", "warn_days"):
        if number in settings:
            value = settings[number]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PolicyError(f"{where}: {number} must be a whole number of days >= 0, not {value!r}")
            changes[number] = value
    if "identity_from_cn" in settings:
        value = settings["identity_from_cn"]
        if not isinstance(value, bool):
            raise PolicyError(f"{where}: identity_from_cn must be true or false, not {value!r}")
        changes["identity_from_cn"] = value
    if "chain_files" in settings:
        changes["chain_files"] = policy.chain_files + tuple(_string_list(settings["chain_files"], "chain_files", where))
    if "severity" in settings:
        severity = dict(policy.severity)
        value = settings["severity"]
        if not isinstance(value, Mapping):
            raise PolicyError(
                f"{where}: severity must be a mapping of rule id to error|warning (e.g. 'key.weak: error')"
            )
        for rule_id, level in value.items():
            _known_rule(rule_id, "severity", where, RULES)
            if level not in SEVERITIES:
                raise PolicyError(f"{where}: severity of {rule_id}: {level!r} is not {ERROR} or {WARNING}")
            severity[rule_id] = level
        changes["severity"] = severity
    if "rules" in settings:
        disabled = set(policy.disabled)
        enabled = set(policy.enabled_rules)
        value = settings["rules"]
        if not isinstance(value, Mapping):
            raise PolicyError(
                f"{where}: rules must be a mapping of rule id to true|false (e.g. 'cert.validity: false')"
            )
        for rule_id, on in value.items():
            _known_rule(rule_id, "rules", where, RULES)
            if not isinstance(on, bool):
                raise PolicyError(f"{where}: rules: {rule_id} must be true or false, not {on!r}")
            if on:
                disabled.discard(rule_id)
                enabled.add(rule_id)
            else:
                disabled.add(rule_id)
                enabled.discard(rule_id)
        changes["disabled"] = frozenset(disabled)
        changes["enabled_rules"] = frozenset(enabled)
    if "max_file_size" in settings:
        try:
            changes["max_file_size"] = parse_size(settings["max_file_size"])
        except ValueError as exc:
            raise PolicyError(f"{where}: max_file_size: {exc}") from None
    if "ignore" in settings:
        changes["ignore"] = policy.ignore + tuple(_ignores(settings["ignore"], where, RULES))
    if "bundles" in settings:
        changes["bundles"] = policy.bundles + tuple(_bundles(settings["bundles"], where))
    return policy.replace(**changes)


def _bundles(value: Any, where: str) -> Iterable[Bundle]:
    example = "e.g. 'bundles: [{certificate: deploy/server.pem, chain: deploy/ca-bundle.pem}]'"
    if not isinstance(value, list):
        raise PolicyError(
            f"{where}: bundles must be a list of {{certificate, chain, private_key, client_ca}} ({example})"
        )
    seen: dict[str, int] = {}
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{where}: bundles[{index}] must be a mapping with a 'certificate' path ({example})")
        unknown = sorted(str(k) for k in entry if k not in BUNDLE_PARTS)
        if unknown:
            raise PolicyError(
                f"{where}: bundles[{index}]: unknown key(s) {', '.join(unknown)}; a bundle has {', '.join(BUNDLE_PARTS)}"
            )
        if "certificate" not in entry:
            raise PolicyError(f"{where}: bundles[{index}] needs 'certificate': the path of the server certificate")
        parts: dict[str, str] = {}
        for part in BUNDLE_PARTS:
            path = entry.get(part)
            if path is None and part != "certificate":
                continue
            if not isinstance(path, str) or not path.strip():
                raise PolicyError(f"{where}: bundles[{index}].{part} must be a file path (a string), not {path!r}")
            parts[part] = path.strip()
        if len(set(parts.values())) != len(parts):
            raise PolicyError(f"{where}: bundles[{index}] names the same file twice; each part is its own file")
        certificate = os.path.normpath(parts["certificate"])
        if certificate in seen:
            raise PolicyError(
                f"{where}: bundles[{index}] and bundles[{seen[certificate]}] both name {parts['certificate']} as the "
                "certificate; keep one bundle per certificate"
            )
        seen[certificate] = index
        yield Bundle(**parts)


def _ignores(value: Any, where: str, rules: Mapping[str, Any]) -> Iterable[Ignore]:
    example = "e.g. 'ignore: [{rule: cert.validity, paths: [\"tests/**\"]}]'"
    if not isinstance(value, list):
        raise PolicyError(f"{where}: ignore must be a list of {{rule, paths}} entries ({example})")
    for entry in value:
        if not isinstance(entry, Mapping) or set(entry) - {"rule", "paths"} or "rule" not in entry:
            raise PolicyError(f"{where}: each ignore entry needs 'rule' and 'paths' and nothing else ({example})")
        rule_id = entry["rule"]
        if rule_id != "*":
            _known_rule(rule_id, "ignore", where, rules)
        paths = entry.get("paths", ["**"])
        if isinstance(paths, str):
            paths = [paths]
        yield Ignore(str(rule_id), tuple(_string_list(paths, "ignore paths", where)))


def _known_rule(rule_id: Any, setting: str, where: str, rules: Mapping[str, Any]) -> None:
    if rule_id not in rules:
        raise PolicyError(
            f"{where}: {setting}: unknown rule {rule_id!r}; the rules are listed by 'certhygiene rules' "
            f"({', '.join(rules)})"
        )


def _string_list(value: Any, setting: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(f"{where}: {setting} must be a list of strings")
    return list(value)
