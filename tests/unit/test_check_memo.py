"""Copies of one content are checked once (`check._Run.run`'s file-rule memo): each copy still gets its own
findings, at its own path, and what a file's role changes is not shared (issue 13's speed work)."""

from __future__ import annotations

from pathlib import Path

from certhygiene.check import check_paths
from certhygiene.policy import load_policy
from support.pki import issue, key, key_pem, pem, three_level


def findings_of(report, path: str) -> set[tuple[str, int, str]]:  # type: ignore[no-untyped-def]
    return {(f.rule_id, f.line, f.message) for f in report.findings if f.path == path}


def test_each_copy_gets_the_findings_a_check_of_it_alone_gives(tmp_path: Path) -> None:
    pki = three_level("memo.example.com")
    big = issue(
        "big.memo.example.com", issuer=pki.intermediate, private_key=key("rsa", 4096, 91), dns=("big.memo.example.com",)
    )
    contents = {
        # one content in three places and under two roles: a certificate file, and a chain file holding a leaf
        "a/site.crt": pem(big, pki.intermediate),
        "b/other.crt": pem(big, pki.intermediate),
        "c/site.chain.pem": pem(big, pki.intermediate),
        # one 4096-bit key in two places
        "a/site.key": key_pem(big.key),
        "d/spare.key": key_pem(big.key),
        # one chain in two places
        "a/chain.pem": pem(pki.intermediate, pki.root),
        "b/chain.pem": pem(pki.intermediate, pki.root),
    }
    for relative, data in contents.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    policy = load_policy(profile="seed", discover=False)
    together = check_paths([str(tmp_path)], policy, root=str(tmp_path))
    for relative in contents:
        path = str(tmp_path / relative)
        alone = check_paths([path], policy, root=str(tmp_path))
        assert findings_of(together, path) == findings_of(alone, path), relative
    # what the copies must show, so that the comparison above is about something
    assert {"key.algorithm", "bundle.multiple"} <= {
        r for r, _l, _m in findings_of(together, str(tmp_path / "b/other.crt"))
    }
    assert "key.algorithm" in {r for r, _l, _m in findings_of(together, str(tmp_path / "d/spare.key"))}
    chain_rules = {r for r, _l, _m in findings_of(together, str(tmp_path / "c/site.chain.pem"))}
    assert "chain.leaf" in chain_rules and "bundle.multiple" not in chain_rules
