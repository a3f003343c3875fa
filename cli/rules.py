"""``certhygiene rules [--format text|json]``: the rule catalog."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="list the rule catalog",
        description="List every rule: id, severity, title, the sentence of the seed document it enforces, and the fix.",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.format == "json":
        from certhygiene.report import rules_as_json

        sys.stdout.write(rules_as_json())
        return 0
    from certhygiene.rules import RULES

    width = max(len(rule_id) for rule_id in RULES)
    out = []
    for rule in RULES.values():
        out.append(f"{rule.id:{width}}  {rule.severity:7}  {rule.title}")
        indent = " " * (width + 11)
        for label, text in (("seed", f'"{rule.citation}"'), ("fix", rule.hint)):
            out.append(textwrap.fill(text, 110, initial_indent=f"{indent}{label}: ", subsequent_indent=indent + "  "))
    out.append(f"{len(RULES)} rules; ids are stable (policy files, ignores and SARIF use them).")
    sys.stdout.write("\n".join(out) + "\n")
    return 0
