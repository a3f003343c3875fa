"""`certhygiene check --jobs N`: folders checked by a process pool give the single-process report (issue 13)."""

from __future__ import annotations

import json
import os
import signal
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


def test_a_killed_worker_loses_nothing(tmp_path: Path) -> None:
    """A worker killed in the middle of the check (OOM killer, kill -9): the tasks it had claimed are checked by the
    command itself, and the report is the whole single-process report, exit code included."""
    for copy in range(8):  # enough work that the workers are still busy when one is killed
        (tmp_path / f"copy{copy}").mkdir()
        make_tree(tmp_path / f"copy{copy}")
    single = subprocess.run(
        [str(BIN / "certhygiene"), "check", ".", "--format", "json", "--jobs", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    process = subprocess.Popen(
        [str(BIN / "certhygiene"), "check", ".", "--format", "json", "--jobs", "2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = None
    children_file = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    while killed is None and process.poll() is None:
        try:
            children = children_file.read_text().split()
        except OSError:
            break
        for child in children:
            try:  # once it has worked ~30 ms of CPU: it holds tasks it has claimed
                if int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[11]) >= 3:
                    os.kill(int(child), signal.SIGKILL)
                    killed = int(child)
                    break
            except (OSError, IndexError):  # it ended just now
                continue
    stdout, stderr = process.communicate(timeout=300)
    assert killed is not None, "no worker was alive to kill: the tree is too small for this machine"
    assert process.returncode == single.returncode == 1, stderr
    assert json.loads(stdout) == json.loads(single.stdout)
