"""A run that notices its own collapse (issue 28): the watch's rule on loss
series, its calibration on the authors' model's seeds, and the line and the
record through training, --resume, sample and evaluate."""
import csv
import os

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import commands, evaluation, run_folder
from gan_2014_utils import history as run_history
from helpers import ROOT, make_tiny_mnist

CALIBRATION = os.path.join(ROOT, "benchmarks", "collapse-paper.npz")


def fired(d_losses, g_losses=None):
    """(first iteration where the watch spoke, since) over a whole series, or None."""
    watch = run_history.CollapseWatch()
    g_losses = np.zeros_like(d_losses) if g_losses is None else g_losses
    for it, (d, g) in enumerate(zip(d_losses, g_losses), start=1):
        if watch.add(it, d, g):
            return it, watch.since
    return None


def test_the_watch_fires_once_the_window_mean_is_under_the_threshold(monkeypatch):
    monkeypatch.setattr(run_history, "COLLAPSE_WINDOW", 10)
    t = run_history.COLLAPSE_D_LOSS
    healthy = np.full(30, 0.3)
    assert fired(healthy) is None
    # a single confident minibatch, even several, is not a collapse: the mean decides
    assert fired(np.concatenate([healthy, np.full(5, t / 100), healthy])) is None
    won = np.concatenate([healthy, np.full(30, t / 100)])  # from iteration 31 on, D wins
    it, since = fired(won)
    expected = next(i for i in range(10, 61) if won[i - 10:i].mean() < t)
    assert it == expected and since == it - 9


def test_the_watch_says_so_once_and_again_only_when_the_run_recovers(monkeypatch):
    monkeypatch.setattr(run_history, "COLLAPSE_WINDOW", 4)
    t = run_history.COLLAPSE_D_LOSS
    watch = run_history.CollapseWatch()
    series = [0.3] * 4 + [t / 100] * 8 + [5 * t] * 8 + [0.5] * 8
    said = [(it, line) for it, d in enumerate(series, 1) if (line := watch.add(it, d, 9.0))]
    assert len(said) == 2, said
    (first, collapsed), (then, recovered) = said
    assert "the run has collapsed: since iteration 5" in collapsed and "another --seed" in collapsed
    assert first == 8  # the first window of four wholly after the healthy start
    assert "recovered from the collapse of iteration 5" in recovered
    # 5 t is above the threshold but under ten times it: not yet recovered
    assert then > 4 + 8 + 8


def test_a_resumed_watch_looks_back_as_far_as_an_uninterrupted_one(monkeypatch):
    monkeypatch.setattr(run_history, "COLLAPSE_WINDOW", 6)
    t = run_history.COLLAPSE_D_LOSS
    series = [0.3] * 6 + [t / 100] * 10
    whole = fired(np.array(series))
    history = [[i, 0, 0, d, 0, 9.0] for i, d in enumerate(series[:9], 1)]  # stopped at iteration 9
    watch = run_history.CollapseWatch(history)
    resumed = next(it for it, d in enumerate(series[9:], 10) if watch.add(it, d, 9.0))
    assert (resumed, watch.since) == whole


@pytest.mark.skipif(not os.path.exists(CALIBRATION), reason="benchmarks/collapse-paper.npz is not there")
def test_the_threshold_separates_the_seeds_that_collapsed_from_those_that_trained():
    """The calibration itself (benchmarks/collapse.py): on the histories of the
    authors' model, 5,000 updates per seed on the full MNIST, the watch fires on
    every seed judged collapsed (its samples one blot) and on no other, early
    phase included."""
    with np.load(CALIBRATION) as f:
        seeds, collapsed, d_loss, g_loss = f["seeds"], f["collapsed"], f["d_loss"], f["g_loss"]
    assert len(seeds) >= 10
    for seed, bad, d, g in zip(seeds, collapsed, d_loss, g_loss):
        result = fired(d, g)
        assert (result is not None) == bool(bad), (seed, result)
        if bad:
            assert result[0] < 5000


class Collapsing:
    """train_iteration's numbers of a run whose discriminator has won: D right on
    everything with a loss of 1e-6, G's loss 12."""

    def __init__(self, gan):
        self.gan, self.original = gan, gan.train_iteration

    def __call__(self, x_train, batch_size):
        self.original(x_train, batch_size)  # the real update, so the checkpoint is a real one
        return [1e-6, 1.0], [1e-6, 1.0], 12.0


def test_a_collapsed_run_says_so_records_it_and_sample_evaluate_and_resume_say_so_too(tmp_path, monkeypatch,
                                                                                      capsys, no_xla):
    monkeypatch.setattr(run_history, "COLLAPSE_WINDOW", 5)
    monkeypatch.chdir(tmp_path)
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    original_init = gan_2014.GAN.__init__
    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.train_iteration = Collapsing(self)
    monkeypatch.setattr(gan_2014.GAN, "__init__", init)
    gan_2014.main(["--data", data, "--epochs", "8", "--batch-size", "16", "--seed", "0", "--log-every", "1"])
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if "the run has collapsed" in l]
    assert len(lines) == 1 and lines[0].startswith("gan_2014: iteration 5: the run has collapsed: since iteration 1")
    # the run went on to its end
    assert sum(1 for row in csv.reader(open(tmp_path / "run/history.csv"))) == 1 + 8
    meta, _ = run_folder.read_checkpoint(str(tmp_path / "run/checkpoint.npz"), meta_only=True)
    assert meta["collapsed_since"] == 1
    note = "run/checkpoint.npz records that its run collapsed at iteration 1"
    gan_2014.main(["--resume", "--epochs", "9"])
    out = capsys.readouterr().out
    assert note in out and "the run has collapsed" not in out  # said once, not again on every resume
    gan_2014.main(["sample", "--weights", "run", "--out", "s.png"])
    assert note in capsys.readouterr().out
    # the classifier figures are not what this is about: an untrained judge, not one trained for it
    monkeypatch.setattr(commands, "load_or_train_classifier",
                        lambda *a, **k: (evaluation.build_classifier(), 0.1, "untrained"))
    gan_2014.main(["evaluate", "--weights", "run", "--data", data, "--samples", "20"])
    assert note in capsys.readouterr().out


def test_a_run_that_trains_records_no_collapse(tmp_path, capsys, no_xla):
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    gan_2014.main(["--data", data, "--epochs", "3", "--batch-size", "16", "--seed", "0",
                   "--run-dir", str(tmp_path / "run"), "--images", str(tmp_path / "images")])
    assert "collapse" not in capsys.readouterr().out
    meta, _ = run_folder.read_checkpoint(str(tmp_path / "run/checkpoint.npz"), meta_only=True)
    assert meta["collapsed_since"] is None
