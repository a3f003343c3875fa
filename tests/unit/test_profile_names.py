"""The policy profiles are defined once (policy.PROFILES); every list of them typed elsewhere (module argument
choices, module docs, doc fragments, role argument specs) must name the same profiles in the same order."""

from __future__ import annotations

import re
from pathlib import Path

from certhygiene.policy import PROFILES

ROOT = Path(__file__).resolve().parents[2]
# A YAML flow list or a Python list that names the seed profile.
LISTS = re.compile(r"\[([^\]\n]*\bseed\b[^\]\n]*)\]")


def typed_lists() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    files = [*ROOT.glob("plugins/**/*.py"), *ROOT.glob("roles/*/meta/argument_specs.yml")]
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in LISTS.finditer(line):
                names = [part.strip().strip("'\"") for part in match.group(1).split(",")]
                if "emqx-cloud" in names or "strict" in names:
                    found[f"{path.relative_to(ROOT)}:{number}"] = names
    return found


def test_every_typed_profile_list_matches_the_engine() -> None:
    found = typed_lists()
    # tls_config's and the policy fragment's docs, the three roles' specs (argument specs derive from PROFILES).
    assert len(found) >= 5, found
    wrong = {where: names for where, names in found.items() if names != list(PROFILES)}
    assert wrong == {}, f"profile lists differ from policy.PROFILES {list(PROFILES)}: {wrong}"
