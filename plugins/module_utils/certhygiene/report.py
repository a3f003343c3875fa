# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a ``Report``: text for people, JSON for scripts, SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

from .check import REPORT_VERSION, Report
from .findings import ERROR, Finding, safe_text
from .rules import RULES, Rule

TOOL_NAME = "certhygiene"
TOOL_VERSION = "0.1.0"
TOOL_URI = "https://example.invalid/certhygiene/tls"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "SRCROOT"
FINGERPRINT_KEY = "certhygiene/v1"
_LINE_REFERENCE = re.compile(r"\blines? [0-9]+")


# ------------------------------------------------------------------ text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(report: Report) -> str:
    parts = [f"{_plural(len(report.files_checked), 'file')} checked"]
    if report.findings:
        parts.append(_plural(len(report.errors), "error"))
        parts.append(_plural(len(report.warnings), "warning"))
    else:
        parts.append("no findings")
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    if report.input_errors:
        parts.append(_plural(len(report.input_errors), "input error"))
    return f"{TOOL_NAME}: {', '.join(parts)} (profile {report.profile})"


def render_text(report: Report) -> str:
    """One line per finding (``path:line: severity [rule.id] message Fix: hint``), skipped files, a summary."""
    lines = [finding.text() for finding in report.findings]
    lines += [safe_text(f"{path}: skipped: {reason}") for path, reason in report.skipped]
    lines += input_error_lines(report)
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def input_error_lines(report: Report) -> list[str]:
    """``path: error: message`` for input the check could not use (the doors exit 2 on any)."""
    return [safe_text(f"{path}: error: {message}") for path, message in report.input_errors]


# ------------------------------------------------------------------ JSON


def render_json(report: Report) -> str:
    """The report as JSON; the schema is versioned by the top-level ``version`` field."""
    data = {"tool": {"name": TOOL_NAME, "version": TOOL_VERSION}, **report.as_dict()}
    data["version"] = REPORT_VERSION
    import json  # here: the text report (every hook, the default format) does without it

    return json.dumps(safe_strings(data), indent=2) + "\n"


def safe_strings(value: Any) -> Any:
    """``value`` with every string passed through ``safe_text``: an undecodable file name would be a lone
    surrogate, which strict JSON readers reject, and control characters have no place in a report."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_strings(k): safe_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        try:
            if "".join(value).isprintable():  # a list of usual strings (a report's files): all at once
                return list(value)
        except TypeError:  # not all strings
            pass
        return [safe_strings(v) for v in value]
    return value


def rules_as_json() -> str:
    """The rule catalog as JSON (``certhygiene rules --format json``)."""
    import json

    return json.dumps({"version": REPORT_VERSION, "rules": [r.as_dict() for r in RULES.values()]}, indent=2) + "\n"


# ------------------------------------------------------------------ SARIF


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _sarif_level(severity: str) -> str:
    return "error" if severity == ERROR else "warning"


def sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": _sentence(rule.title)},
        "fullDescription": {"text": _sentence(rule.description)},
        "help": {"text": rule.help_text, "markdown": rule.help_markdown},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": _sarif_level(rule.severity)},
        "properties": {
            "security-severity": rule.security_severity,
            "tags": list(rule.tags),
            "precision": "very-high",
            "problem.severity": rule.severity,
            "citation": rule.citation,
        },
    }


def _artifact(path: str, root: str) -> dict[str, Any]:
    """A repository-relative URI with ``uriBaseId`` SRCROOT; an absolute file URI for paths outside ``root``."""
    import pathlib
    import urllib.parse

    absolute = os.path.abspath(path)  # finding paths are as given: relative to the current folder
    relative = os.path.relpath(absolute, root)
    if relative == os.curdir or relative.split(os.sep, 1)[0] == os.pardir:
        return {"uri": pathlib.Path(absolute).as_uri()}  # percent-encodes the name's bytes
    # The bytes of the name (an undecodable name keeps its raw bytes), percent-encoded: no control character,
    # newline or non-UTF-8 byte reaches the URI.
    raw = os.fsencode(relative.replace(os.sep, "/"))
    return {"uri": urllib.parse.quote_from_bytes(raw, safe="/"), "uriBaseId": SRCROOT}


def _fingerprint(finding: Finding, uri: str) -> str:
    """Stable across line moves: rule, file and certificate (serial and subject), never the line."""
    material = "\0".join((finding.rule_id, uri, finding.serial or "", finding.subject or ""))
    if finding.serial is None:
        # no certificate: the message tells findings apart, without the line numbers it names
        material += "\0" + _LINE_REFERENCE.sub("line", finding.message)
    return hashlib.sha256(material.encode("utf-8", "backslashreplace")).hexdigest()[:32]


def _location(finding: Finding, root: str) -> dict[str, Any]:
    start = max(finding.line, 1)
    end = max(finding.end_line, start)
    return {
        "physicalLocation": {
            "artifactLocation": _artifact(finding.path, root),
            "region": {"startLine": start, "endLine": end},
        }
    }


def render_sarif(report: Report, root: str | None = None) -> str:
    """SARIF 2.1.0: the full catalog as ``tool.driver.rules``, one result per finding, paths relative to ``root``."""
    import json
    import pathlib

    root = os.path.abspath(root or report.root or os.getcwd())
    rule_ids = list(RULES)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    seen: dict[str, int] = {}
    for finding in report.findings:
        location = _location(finding, root)
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        digest = _fingerprint(finding, uri)
        seen[digest] = seen.get(digest, 0) + 1
        result: dict[str, Any] = {
            "ruleId": finding.rule_id,
            "ruleIndex": index[finding.rule_id],
            "level": _sarif_level(finding.severity),
            "message": {"text": safe_text(f"{_sentence(finding.message)} Fix: {_sentence(finding.hint)}")},
            "locations": [location],
            "partialFingerprints": {FINGERPRINT_KEY: f"{digest}:{seen[digest]}"},
        }
        if finding.subject is not None or finding.serial is not None:
            result["properties"] = safe_strings({"subject": finding.subject, "serial": finding.serial})
        results.append(result)
    notifications = [
        {
            "level": "note",
            "message": {"text": safe_text(_sentence(f"Skipped {path}: {reason}"))},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(path, root)}}],
        }
        for path, reason in report.skipped
    ]
    notifications += [
        {
            "level": "error",
            "message": {"text": safe_text(_sentence(f"{path}: {message}"))},
            "locations": [{"physicalLocation": {"artifactLocation": _artifact(path, root)}}],
        }
        for path, message in report.input_errors
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not report.input_errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": TOOL_VERSION,
                "semanticVersion": TOOL_VERSION,
                "informationUri": TOOL_URI,
                "rules": [sarif_rule(RULES[rule_id]) for rule_id in rule_ids],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": pathlib.Path(root).as_uri().rstrip("/") + "/"}},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"profile": report.profile, "filesChecked": len(report.files_checked)},
    }
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2) + "\n"
