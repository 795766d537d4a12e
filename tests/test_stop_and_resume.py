"""Training you can stop and resume: checkpoints, --resume, signals, kill -9, divergence."""
import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import gan_2014
from helpers import SCRIPT, make_tiny_mnist, run_script

COMMON = ["--epochs", "40", "--batch-size", "16", "--seed", "5", "--checkpoint-interval", "10",
          "--sample-interval", "10"]


def history(folder):
    with open(os.path.join(folder, "run", "history.csv")) as f:
        return [[r[k] for k in gan_2014.HISTORY_FIELDS if k != "seconds"] for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    data = make_tiny_mnist(folder / "tiny.npz")
    result = run_script("--data", data, *COMMON, cwd=folder)
    assert result.returncode == 0, result.stderr
    return data, history(folder)


def start(folder, data, *extra):
    return subprocess.Popen([sys.executable, SCRIPT, "--data", data, *COMMON, "--log-every", "1", *extra],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_iteration(proc, n):
    for line in proc.stdout:
        if line.split(" ", 1)[0].isdigit() and int(line.split(" ", 1)[0]) >= n:
            return
    raise AssertionError("training ended before iteration %d: %s" % (n, proc.stderr.read()))


def test_sigkill_loses_at_most_a_checkpoint_interval_and_resume_finishes_identically(tmp_path, uninterrupted):
    data, whole = uninterrupted
    proc = start(tmp_path, data)
    wait_for_iteration(proc, 25)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with np.load(tmp_path / "run" / "checkpoint.npz") as ckpt:  # the last good checkpoint is whole
        assert 20 <= json.loads(str(ckpt["meta"]))["iteration"] <= 30
    resumed = run_script("--data", data, *COMMON, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert history(tmp_path) == whole
    assert sorted(gan_2014.grid_files(tmp_path / "images")) == ["0.png", "10.png", "20.png", "30.png", "40.png",
                                                                "progress.gif"]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_finishes_the_iteration_checkpoints_and_says_how_to_resume(tmp_path, uninterrupted, sig, code):
    data, whole = uninterrupted
    proc = start(tmp_path, data)
    wait_for_iteration(proc, 3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "--resume" in err and "Traceback" not in err
    with np.load(tmp_path / "run" / "checkpoint.npz") as ckpt:
        saved = json.loads(str(ckpt["meta"]))["iteration"]
    rows = history(tmp_path)
    assert 3 <= saved < 40 and int(rows[-1][0]) == saved
    if sig == signal.SIGTERM:  # and the run goes on from there as if never stopped
        resumed = run_script("--data", data, *COMMON, "--resume", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert history(tmp_path) == whole


def resumed_after_five(tmp_path, tiny_data, tamper):
    """Train 5 iterations (checkpoint at 5), then resume towards 20 with each
    iteration's result passed through tamper(gan, call number, result).
    Returns (the Stopped raised, the checkpoint's bytes at 5)."""
    (x, _), _ = gan_2014.load_mnist(tiny_data)
    x = gan_2014.GAN.from_pixels(x)
    kw = dict(batch_size=16, sample_interval=5, images=str(tmp_path / "images"),
              run_dir=str(tmp_path / "run"), checkpoint_interval=5, progress=False)
    os.makedirs(tmp_path / "images"), os.makedirs(tmp_path / "run")
    gan = gan_2014.GAN(seed=1)
    gan.train(x, epochs=5, **kw)
    good = (tmp_path / "run" / "checkpoint.npz").read_bytes()
    original, calls = gan.train_iteration, []
    def tampered(*args):
        calls.append(1)
        return tamper(gan, len(calls), original(*args))
    gan.train_iteration = tampered
    with pytest.raises(gan_2014.Stopped) as stop:
        gan.train(x, epochs=20, restored=gan.load_checkpoint(str(tmp_path / "run" / "checkpoint.npz")), **kw)
    return stop.value, good


def test_non_finite_loss_stops_with_the_iteration_and_keeps_the_last_checkpoint(tmp_path, tiny_data):
    def nan_loss(gan, call, result):
        d_real, d_fake, g_loss = result
        return d_real, d_fake, float("nan") if call == 3 else g_loss
    stop, good = resumed_after_five(tmp_path, tiny_data, nan_loss)
    assert "diverged at iteration 8" in str(stop) and stop.saved_at == 5 and stop.code == 1
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == good
    assert gan_2014.GAN(seed=1).load_checkpoint(str(tmp_path / "run" / "checkpoint.npz"))[0] == 5


def test_non_finite_weights_are_never_checkpointed(tmp_path, tiny_data):
    """The losses are computed before an update; an update that breaks the
    weights must still not be saved as the last good checkpoint."""
    def breaks_the_weights(gan, call, result):
        if call == 5:  # the update of iteration 10, a checkpoint's: its losses were finite
            kernel = gan.generator.layers[0].kernel
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))
        return result
    stop, good = resumed_after_five(tmp_path, tiny_data, breaks_the_weights)
    assert "diverged by iteration 10" in str(stop) and "not finite" in str(stop)
    assert stop.saved_at == 5 and stop.code == 1
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == good


def test_resume_without_a_run_is_refused(tmp_path, tiny_data):
    result = run_script("--data", tiny_data, "--resume", cwd=tmp_path)
    assert result.returncode == 2
    assert "--resume: no run folder run/" in result.stderr.strip().splitlines()[-1]


def test_truncated_or_mismatched_checkpoint_is_refused_and_left_alone(tmp_path, uninterrupted, capsys, monkeypatch):
    data, _ = uninterrupted
    monkeypatch.chdir(tmp_path)
    gan_2014.main(["--data", data, "--epochs", "2", "--batch-size", "16", "--seed", "1"])
    capsys.readouterr()
    ckpt = tmp_path / "run" / "checkpoint.npz"
    good = ckpt.read_bytes()
    for argv, words in [(["--latent-dim", "64"], "--latent-dim 64 conflicts with the run's 100"),
                        ([], None)]:
        if words is None:  # now a truncated file
            ckpt.write_bytes(good[: len(good) // 2])
            words = "run/checkpoint.npz: not a readable .npz archive; start a new run with --overwrite"
        before = ckpt.read_bytes()
        with pytest.raises(SystemExit) as exit_info:
            gan_2014.main(["--data", data, "--epochs", "4", "--batch-size", "16", "--resume", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and words in err[0], err
        assert ckpt.read_bytes() == before
