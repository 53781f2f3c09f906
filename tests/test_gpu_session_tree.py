"""build/gpu_session.sh's set-aside / restore: a device run sends at most 64 MiB of tracked and untracked-not-ignored
files, and the trained fixture checkpoint alone is 88 MB. Checked in a throwaway git repository holding a copy of
the script, a tracked file over the 4 MiB threshold and a small one."""
from __future__ import annotations

import os
import shutil
import subprocess

from conftest import ROOT

MIB = 1024 * 1024


def _git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _session(repo, *args) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "build/gpu_session.sh", *args], cwd=repo, capture_output=True, text=True, timeout=60)


def _repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "build").mkdir(parents=True)
    (repo / "fixtures").mkdir()
    shutil.copy(ROOT / "build" / "gpu_session.sh", repo / "build" / "gpu_session.sh")
    big = repo / "fixtures" / "big model.safetensors"  # a space in the name on purpose
    big.write_bytes(bytes(range(256)) * (5 * MIB // 256))
    (repo / "small.txt").write_text("small\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return repo, big


def test_set_aside_untracks_big_files_until_restore(tmp_path):
    repo, big = _repo(tmp_path)
    content = big.read_bytes()
    before = _session(repo, "travel-size")
    assert before.returncode == 0 and f"({5 * MIB + 6 + len((ROOT / 'build' / 'gpu_session.sh').read_bytes())} bytes" in before.stdout

    aside = _session(repo, "set-aside")
    assert aside.returncode == 0, aside.stdout + aside.stderr
    assert "set aside 1 tracked files (fixtures/big model.safetensors, ...)" in aside.stdout
    assert not big.exists()
    tracked = _git(repo, "ls-files", "--cached", "--others", "--exclude-standard").split("\n")
    assert "fixtures/big model.safetensors" not in tracked and "small.txt" in tracked
    again = _session(repo, "set-aside")  # a second call moves nothing and says the same
    assert again.returncode == 0 and "set aside 1 tracked files" in again.stdout and not big.exists()

    restored = _session(repo, "restore")
    assert restored.returncode == 0 and "restored 1 tracked files" in restored.stdout
    assert big.read_bytes() == content
    assert _git(repo, "status", "--porcelain") == ""
    assert _session(repo, "restore").stdout.strip() == "nothing is set aside"


def test_an_interrupted_set_aside_or_restore_is_finished_by_calling_it_again(tmp_path):
    repo, big = _repo(tmp_path)
    second = repo / "fixtures" / "second.bin"
    second.write_bytes(b"\1" * (5 * MIB))
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "second")
    aside = repo / ".git" / "gpu-session-aside"
    # set-aside stopped after its first file: the list written, one file untracked and moved
    aside.mkdir()
    (aside / "list").write_text("fixtures/big model.safetensors\nfixtures/second.bin\n")
    _git(repo, "rm", "-q", "--cached", "--", "fixtures/big model.safetensors")
    (aside / "fixtures").mkdir()
    big.rename(aside / "fixtures" / "big model.safetensors")
    assert _session(repo, "set-aside").returncode == 0
    assert not big.exists() and not second.exists()
    assert "fixtures/second.bin" not in _git(repo, "ls-files")
    # restore stopped after its first file: one back and unstaged, the other still aside
    (aside / "fixtures" / "big model.safetensors").rename(big)
    _git(repo, "reset", "-q", "--", "fixtures/big model.safetensors")
    restored = _session(repo, "restore")
    assert restored.returncode == 0 and "restored 2 tracked files" in restored.stdout
    assert second.stat().st_size == 5 * MIB and big.stat().st_size == 5 * MIB - (5 * MIB) % 256
    assert _git(repo, "status", "--porcelain") == "" and not aside.exists()


def test_travel_size_fails_over_the_limit_with_carried_paths(tmp_path):
    repo, _ = _repo(tmp_path)
    carried = repo / ".whl"
    carried.mkdir()
    (carried / "w.whl").write_bytes(b"\0" * (60 * MIB))  # 5 MiB tracked + 60 MiB carried > 64 MiB
    over = _session(repo, "travel-size", ".whl")
    assert over.returncode == 1 and "a run would send 65 MiB" in over.stdout and "carrying .whl" in over.stdout
    assert _session(repo, "set-aside", ".whl").returncode == 0  # 60 MiB + the small files
    with open(carried / "sparse.bin", "wb") as sparse:  # sizes past 2 GiB print as integers (awk's %d would not)
        sparse.truncate(3 * 1024 * MIB)
    huge = _session(repo, "travel-size", ".whl")
    assert huge.returncode == 1 and huge.stdout.startswith("a run would send 3132 MiB ("), huge.stdout + huge.stderr


def test_this_repository_leaves_room_for_the_wheels_once_big_files_are_set_aside():
    """What travels after set-aside (tracked files of at most 4 MiB) leaves the ~52 MB of wheels
    (`fetch-wheels`) room under 64 MiB."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    sizes = [(ROOT / name.decode()).stat().st_size for name in listed if name and (ROOT / name.decode()).exists()]
    small = sum(size for size in sizes if size <= 4 * MIB)
    assert small < 8 * MIB, f"{small / MIB:.1f} MiB of tracked files under 4 MiB each"


def test_section_names_are_checked_before_any_set_up():
    """A typo costs nothing: every name is checked (SGLang cases from bench_e2e, `:compiled` on a case only) before
    wheels are installed or a section spends device minutes. Run in this checkout, which has no .whl/ here."""
    env = dict(os.environ, PYTHON=str(ROOT / ".venv/bin/python"), OUT="/tmp/gpu-session-test-out")
    for sections in (["ltx_2_bogus"], ["e2e-snapshot:compiled"], ["ltx_2_two_stage_t2v:compiled", "kernels:compiled"]):
        run = subprocess.run(["bash", "build/gpu_session.sh", *sections], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
        assert run.returncode == 2 and f"unknown section {sections[-1]} " in run.stdout, (sections, run.stdout, run.stderr)
        assert run.stdout.count("\n") == 1 and run.stderr == "", (run.stdout, run.stderr)  # pip, nvidia-smi: not run
