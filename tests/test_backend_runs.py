"""Runs on every Keras 3 backend (issue 43), in children with KERAS_BACKEND
set (`other`, in conftest.py): every command, kill -9 and --resume, the same
seed, no TensorFlow loaded beside the others, and runs that move between
backends."""
import json
import os

import numpy as np
import pytest

import gan_2014
from helpers import ROOT, SCRIPT, child, events_of, losses_of, make_tiny_mnist, tree

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = ["--batch-size", "16", "--seed", "4", "--sample-interval", "2", "--checkpoint-interval", "2"]


def test_kill_9_then_resume_on_each_backend_gives_the_uninterrupted_history_and_no_tensorflow(tmp_path, other):
    make_tiny_mnist(tmp_path / "tiny.npz")
    argv = ["--data", "tiny.npz", *TINY, "--epochs", "6"]
    for name in ("whole", "killed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tiny.npz").write_bytes((tmp_path / "tiny.npz").read_bytes())
    kill = os.path.join(HERE, "kill_at_write.py")
    child(other, kill, 0, *argv, cwd=tmp_path / "whole")
    killed = child(other, kill, 9, *argv, cwd=tmp_path / "killed", check=False)  # after a checkpoint
    assert killed.returncode == -9  # SIGKILL, mid-run
    code = ("import sys; sys.path.insert(0, %r); import gan_2014; gan_2014.main(['--resume'])\n"
            "print('tensorflow loaded:', 'tensorflow' in sys.modules)") % ROOT
    resumed = child(other, "-c", code, cwd=tmp_path / "killed")
    assert "resuming from iteration" in resumed.stdout
    assert "tensorflow loaded: False" in resumed.stdout  # with torch, a TensorFlow beside it crashes the process
    # the killed process's rows up to its checkpoint, then the resumed one's: the same
    # --seed in another process gives the same history, and a kill loses nothing of it
    assert losses_of(tmp_path / "killed") == losses_of(tmp_path / "whole")
    grids = lambda folder: {k: v for k, v in tree(folder / "images").items() if k != ".gan_2014-run"}  # not the run id
    assert grids(tmp_path / "killed") == grids(tmp_path / "whole")  # the grids and the GIF, byte for byte
    assert json.loads((tmp_path / "killed" / "run" / "run.json").read_text())["backend"] == other
    found, settings = events_of(tmp_path / "killed" / "run")  # TensorBoard's events, written without TensorFlow
    assert [(step, value) for step, value in found["loss/g"]] == \
        [(row[0], float(np.float32(row[5]))) for row in losses_of(tmp_path / "killed")]  # each iteration once
    assert settings["backend"] == other


def test_every_command_runs_on_each_backend(tmp_path, other):
    """Both --arch, --train-on-batch, --d-steps, --g-loss, --eval-every, --resume,
    sample (a grid, --nearest, --interpolate), evaluate, toy, and a folder of
    colour images (issue 45), in one child."""
    from PIL import Image
    make_tiny_mnist(tmp_path / "tiny.npz")
    (tmp_path / "pics").mkdir()
    for i in range(12):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(
            tmp_path / "pics" / f"{i}.png")
    code = ("import os, sys; sys.path.insert(0, %r); import gan_2014\n"
            "os.environ['KERAS_HOME'] = 'keras-home'\n"  # the folder's cache, here
            "from gan_2014_utils import evaluation, train\n"  # held-out estimates on 500 samples: the same code
            "train.heldout_monitor = lambda *a: evaluation.heldout_monitor(*a, samples=500)\n"
            "evaluation.CLASSIFIER_EPOCHS = 1\n"  # evaluate trains its classifier: one epoch of it
            "m = gan_2014.main\n"
            "m(['--data', 'tiny.npz', '--arch', 'paper', '--epochs', '4', '--batch-size', '16', '--run-dir', 'p',\n"
            "   '--images', 'pi', '--eval-every', '2', '--g-loss', 'minimax'])\n"
            "m(['--data', 'tiny.npz', '--epochs', '2', '--batch-size', '16', '--train-on-batch', '--d-steps', '2'])\n"
            "m(['--resume', '--epochs', '4'])\n"
            "m(['sample', '--weights', 'run', '--out', 'grid.png'])\n"
            "m(['sample', '--weights', 'p', '--nearest', '--data', 'tiny.npz', '--out', 'nearest.png'])\n"
            "m(['sample', '--weights', 'run', '--interpolate', '4', '--n', '2', '--out', 'line.png'])\n"
            "m(['evaluate', '--weights', 'p', '--data', 'tiny.npz', '--samples', '200', '--cache', 'cache'])\n"
            "m(['toy', '--iterations', '20', '--out', 'toy.png'])\n"
            "m(['--data', 'pics', '--epochs', '2', '--batch-size', '8', '--run-dir', 'c', '--images', 'ci'])\n"
            "m(['sample', '--weights', 'c/generator.weights.h5', '--n', '2', '--out', 'colour.npy'])\n"
            "print('tensorflow loaded:', 'tensorflow' in sys.modules)\n") % ROOT
    done = child(other, "-c", code, cwd=tmp_path)
    assert "tensorflow loaded: False" in done.stdout  # evaluate trained and cached its classifier without it
    assert "training a small MNIST classifier" in done.stdout and os.listdir(tmp_path / "cache")
    assert "resuming from iteration 2" in done.stdout and "Parzen LL" in done.stdout and "Figure 1 written" in done.stdout
    for name in ("grid.png", "nearest.png", "line.png", "toy.png", "run/generator.weights.h5", "p/best/best.json"):
        assert (tmp_path / name).is_file(), name
    assert "read 12 images from pics/: 10x12 colour" in done.stdout
    assert np.load(tmp_path / "colour.npy").shape == (2, 12, 10, 3)


def test_a_run_moves_from_tensorflow_to_another_backend_and_back(tmp_path, other, no_xla, monkeypatch, capsys):
    """Weights, optimizer state, iteration and the grids' noise carried; the random
    stream after a move is the new backend's, said in one line; each iteration once."""
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "4"])
    moved = child(other, SCRIPT, "--resume", "--epochs", "8", cwd=tmp_path)
    assert f"was written on tensorflow and is read on {other}" in moved.stdout
    assert f"the random stream from here is {other}'s" in moved.stdout
    assert json.loads((tmp_path / "run" / "run.json").read_text())["backend"] == other
    capsys.readouterr()
    gan_2014.main(["--resume", "--epochs", "12"])
    assert f"was written on {other} and is read on tensorflow" in capsys.readouterr().out
    rows = losses_of(tmp_path)
    assert [r[0] for r in rows] == list(range(1, 13)) and all(np.isfinite(r[1:6]).all() for r in rows)
    grids = sorted(int(p.stem) for p in (tmp_path / "images").glob("*.png"))
    assert grids == list(range(0, 13, 2))


def test_a_moved_runs_checkpoint_with_a_counter_too_large_for_the_backend_is_refused(tmp_path):
    """Counters are carried across integer widths (JAX's are 32-bit) only when their values fit."""
    from gan_2014_utils.process import CheckpointError
    from gan_2014_utils.run_folder import load_checkpoint, write_checkpoint
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(gan, str(path), 0, 0.0, gan.host_noise(np.random.default_rng(0), 25), None,
                     collapsed_since=None, files={})
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    key = "d_adam/iteration"
    arrays[key] = np.array(2 ** 64 - 1, np.uint64)  # an integer of another width whose value does not fit
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=key):
        load_checkpoint(gan, str(path))
