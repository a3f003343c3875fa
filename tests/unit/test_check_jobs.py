"""`certhygiene check --jobs N`: folders checked by a process pool give the single-process report (issue 13)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from certhygiene.check import PARALLEL_MIN_FILES, check_paths
from certhygiene.policy import load_policy
from support.pki import issue, key, key_pem, pem, three_level
from support.precommit import BIN


def make_tree(root: Path) -> None:
    """Folders of pairs, chains, a mismatched key, a leaf in a chain file and a document, over the pool's floor."""
    pki = three_level("jobs.example.com")
    wrong = key_pem(key("rsa", 2048, 70))
    big = issue("big.example.com", issuer=pki.intermediate, private_key=key("rsa", 4096, 71), dns=("big.example",))
    files = 0
    folder_index = 0
    while files < PARALLEL_MIN_FILES + 50:
        folder = root / f"site{folder_index:02d}"
        folder.mkdir()
        for i in range(10):
            (folder / f"s{i}.crt").write_bytes(pem(pki.leaf if i % 3 else big))
            (folder / f"s{i}.key").write_bytes(key_pem(pki.leaf.key) if i % 4 else wrong)
            (folder / f"s{i}.chain.pem").write_bytes(pem(pki.intermediate) + (pem(pki.leaf) if i == 5 else b""))
            files += 3
        (folder / "values.yaml").write_text(
            f"tls:\n  certificate: |\n    {pem(big).decode().replace(chr(10), chr(10) + '    ')}\n"
        )
        files += 1
        folder_index += 1


def test_pool_report_is_the_single_process_report(tmp_path: Path) -> None:
    make_tree(tmp_path)
    policy = load_policy(profile="seed", discover=False)
    single = check_paths([str(tmp_path)], policy, root=str(tmp_path))
    pooled = check_paths([str(tmp_path)], policy, root=str(tmp_path), jobs=3)
    assert len(single.files_checked) > PARALLEL_MIN_FILES
    assert {f.rule_id for f in single.findings} >= {"pair.mismatch", "key.algorithm", "chain.leaf"}
    assert pooled.as_dict() == single.as_dict()


def test_cli_jobs(tmp_path: Path) -> None:
    make_tree(tmp_path)
    outputs = []
    for jobs in ("1", "2"):
        result = subprocess.run(
            [str(BIN / "certhygiene"), "check", ".", "--format", "json", "--jobs", jobs],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    bad = subprocess.run(
        [str(BIN / "certhygiene"), "check", ".", "--jobs", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "--jobs takes a number of processes" in bad.stderr
