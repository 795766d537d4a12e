"""The tests' shared models (model_pool.py, issue 46) are invisible to a run: a
training on a model reused after another training writes exactly what it
wrote on the model's fresh build, so the tests of folders and messages that
use them prove what they proved on fresh builds."""
import numpy as np
import pytest

import gan_2014
from helpers import losses_of, make_tiny_mnist
from model_pool import POOL, pooled

TINY = ["--batch-size", "16", "--sample-interval", "2", "--checkpoint-interval", "2", "--eval-every", "2",
        "--epochs", "4"]


def written(folder):
    """The run's arrays (not its id or clock), history and grids."""
    with np.load(folder / "run" / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
    grids = {p.name: p.read_bytes() for p in (folder / "images").glob("*.png")}
    return arrays, losses_of(folder), grids


@pytest.mark.parametrize("arch", ["keras-gan", "paper"])
def test_a_run_on_a_reused_model_writes_what_it_wrote_on_the_fresh_build(tmp_path, monkeypatch, capsys, arch):
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    from gan_2014_utils import evaluation, train
    monkeypatch.setattr(train, "heldout_monitor", lambda *a: evaluation.heldout_monitor(*a, samples=500))
    POOL.models.clear()  # the first run builds its model afresh
    with pooled():
        def run(name, seed):
            gan_2014.main(["--data", "tiny.npz", "--arch", arch, "--seed", str(seed), *TINY,
                           "--run-dir", f"{name}/run", "--images", f"{name}/images"])
            return len(POOL.models)
        built = run("fresh", 3)
        assert run("other", 4) == built + 1  # another seed: another model
        assert run("reused", 3) == built + 1  # the first one again, after it trained: no build
    fresh, reused = written(tmp_path / "fresh"), written(tmp_path / "reused")
    assert fresh[0].keys() == reused[0].keys() and len(fresh[0]) > 20
    for key in fresh[0]:
        np.testing.assert_array_equal(reused[0][key], fresh[0][key], err_msg=key)
    assert reused[1] == fresh[1] and len(fresh[1]) == 4  # the history, held-out estimates included
    assert reused[2] == fresh[2] and len(fresh[2]) == 3  # the grids, byte for byte
    assert written(tmp_path / "other")[1] != fresh[1]
    capsys.readouterr()
