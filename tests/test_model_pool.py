"""The tests' shared compiled models (model_pool.py, issue 46) are invisible to
a run: a training on a model object that an earlier training used, with
another seed or the same, built afresh or recalled from an earlier build from
the same random state, writes exactly what it writes on a model built outside
the pool, so the tests of folders and messages that share them prove what
they proved on fresh objects."""
import random

import numpy as np
import pytest

import gan_2014
from helpers import HELDOUT_SAMPLES, losses_of, make_tiny_mnist
from model_pool import POOL, pooled

TINY = ["--batch-size", "16", "--sample-interval", "2", "--checkpoint-interval", "2", "--eval-every", "2",
        "--epochs", "4"]


def written(folder):
    """The run's arrays (not its id or clock), history and grids."""
    with np.load(folder / "run" / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
    grids = {p.name: p.read_bytes() for p in (folder / "images").glob("*.png")}
    return arrays, losses_of(folder), grids


def assert_same(a, b):
    assert a[0].keys() == b[0].keys() and len(a[0]) > 20
    for key in a[0]:
        np.testing.assert_array_equal(b[0][key], a[0][key], err_msg=key)
    assert b[1] == a[1] and len(a[1]) == 4  # the history, held-out estimates included
    assert b[2] == a[2] and len(a[2]) == 3  # the grids, byte for byte


@pytest.mark.parametrize("arch", ["keras-gan", "paper"])
def test_a_run_on_a_shared_model_writes_what_it_writes_on_its_own(tmp_path, monkeypatch, capsys, arch):
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    from gan_2014_utils import evaluation, train
    monkeypatch.setattr(train, "heldout_monitor", lambda *a: evaluation.heldout_monitor(*a, samples=HELDOUT_SAMPLES))
    after = {}  # the global random state each run leaves (its layers' default seeds drew from it)

    def run(name, seed):
        gan_2014.main(["--data", "tiny.npz", "--arch", arch, "--seed", str(seed), *TINY,
                       "--run-dir", f"{name}/run", "--images", f"{name}/images"])
        after[name] = (random.random(), np.random.random())

    monkeypatch.setattr(gan_2014, "JIT_COMPILE", False)
    run("own-4", 4)  # outside the pool: a model of its own
    POOL.models.clear()
    POOL.built.clear()
    with pooled():
        run("first-3", 3)  # the pool's model, built here
        adopted, recalled = POOL.adopted, POOL.recalled
        run("shared-4", 4)  # on the model seed 3 trained, with seed 4's fresh build
        assert POOL.recalled == recalled
        run("shared-3", 3)  # and again with seed 3's, its build recalled from the first
        run("again-4", 4)  # and seed 4's, recalled from shared-4's
        assert POOL.adopted == adopted + 3 and POOL.recalled == recalled + 2 and len(POOL.models) == 1
    assert_same(written(tmp_path / "own-4"), written(tmp_path / "shared-4"))
    assert_same(written(tmp_path / "own-4"), written(tmp_path / "again-4"))
    assert_same(written(tmp_path / "first-3"), written(tmp_path / "shared-3"))
    assert after["own-4"] == after["shared-4"] == after["again-4"] and after["first-3"] == after["shared-3"]
    assert written(tmp_path / "own-4")[1] != written(tmp_path / "first-3")[1]
    capsys.readouterr()
