"""Any kill, at any write, resumes to the uninterrupted run's losses (issue 36,
rule 2 in docs/runs.md): a short run stopped just before each of its files
takes its final name, in turn, then resumed."""
import os
import shutil

import pytest

import gan_2014
from helpers import losses_of as losses, make_tiny_mnist

TINY = ["--batch-size", "16", "--seed", "4", "--sample-interval", "2", "--checkpoint-interval", "2"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


def test_a_run_killed_at_each_of_its_writes_resumes_to_the_uninterrupted_runs_losses(tmp_path, monkeypatch, capsys):
    """Stopped just before each file takes its final name, in turn (grids, plot,
    checkpoints, run.json, best/ newer than its checkpoint, the two final weights,
    the GIF), then resumed: every state the writes leave continues exactly.

    What a kill -9 at a write leaves is what is on disk at that moment (the
    write's temporary file included, nothing of the process after it): the
    uninterrupted run copies its folders there, before each write, and each
    copy, put back in their place, is resumed."""
    project = tmp_path / "project"
    project.mkdir()
    make_tiny_mnist(project / "tiny.npz")
    monkeypatch.chdir(project)
    argv = ["--data", "tiny.npz", *TINY, "--epochs", "6", "--eval-every", "3"]
    replace, writes = os.replace, []
    def left_by_a_kill_then_written(src, dst):
        writes.append(os.path.basename(dst))
        for name in ("run", "images"):
            if os.path.isdir(project / name):
                shutil.copytree(project / name, tmp_path / f"kill-{len(writes)}" / name, symlinks=True)
        return replace(src, dst)
    monkeypatch.setattr(os, "replace", left_by_a_kill_then_written)
    gan_2014.main(argv)
    monkeypatch.setattr(os, "replace", replace)
    whole = losses(project)
    assert len(writes) >= 15 and {"generator.weights.h5", "best.json", "checkpoint.npz", "progress.gif"} <= set(writes)
    for n in range(1, len(writes) + 1):
        for name in ("run", "images"):
            shutil.rmtree(project / name, ignore_errors=True)
            if os.path.isdir(tmp_path / f"kill-{n}" / name):
                shutil.copytree(tmp_path / f"kill-{n}" / name, project / name, symlinks=True)
        gan_2014.main(["--resume"] if (project / "run" / "run.json").exists() else argv)
        assert losses(project) == whole, (n, writes[n - 1])
    capsys.readouterr()
