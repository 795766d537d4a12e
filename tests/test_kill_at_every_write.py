"""Any kill, at any write, resumes to the uninterrupted run's losses (issue 36,
rule 2 in docs/runs.md): a short run stopped just before each of its files
takes its final name, in turn, then resumed."""
import os
import shutil

import pytest

import gan_2014
from gan_2014_utils import evaluation, train
from helpers import losses_of as losses, make_tiny_mnist

TINY = ["--batch-size", "16", "--seed", "4", "--sample-interval", "2", "--checkpoint-interval", "2"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


class Killed(BaseException):
    """A kill at a write: nothing after it runs (BaseException: no handler of the script's catches it)."""


def test_a_run_killed_at_each_of_its_writes_resumes_to_the_uninterrupted_runs_losses(tmp_path, monkeypatch, capsys):
    """Stopped just before each file takes its final name, in turn (grids, plot,
    checkpoints, run.json, best/ newer than its checkpoint, the two final weights,
    the GIF), then resumed: every state the writes leave continues exactly."""
    project = tmp_path
    make_tiny_mnist(project / "tiny.npz")
    monkeypatch.chdir(project)
    # the held-out estimate on 1,000 samples instead of 10,000: the same writes, a tenth of the time
    monkeypatch.setattr(train, "heldout_monitor", lambda *a: evaluation.heldout_monitor(*a, samples=1000))
    argv = ["--data", "tiny.npz", *TINY, "--epochs", "6", "--eval-every", "3"]
    replace, writes = os.replace, []
    def counting(src, dst):
        writes.append(os.path.basename(dst))
        return replace(src, dst)
    monkeypatch.setattr(os, "replace", counting)
    gan_2014.main(argv)
    whole, n_writes = losses(project), len(writes)
    assert n_writes >= 15 and {"generator.weights.h5", "best.json", "checkpoint.npz", "progress.gif"} <= set(writes)
    for n in range(1, n_writes + 1):
        for name in ("run", "images"):
            shutil.rmtree(project / name, ignore_errors=True)
        calls = []
        def killed_at_n(src, dst):
            calls.append(dst)
            if len(calls) == n:
                raise Killed(os.path.basename(dst))
            return replace(src, dst)
        monkeypatch.setattr(os, "replace", killed_at_n)
        with pytest.raises(Killed):
            gan_2014.main(argv)
        monkeypatch.setattr(os, "replace", replace)
        gan_2014.main(["--resume"] if (project / "run" / "run.json").exists() else argv)
        assert losses(project) == whole, (n, writes[n - 1])
    capsys.readouterr()
