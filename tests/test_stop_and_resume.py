"""Training you can stop and resume: checkpoints, --resume, signals, kill -9, divergence.

Without XLA (its ~10 s compile per process was most of this file's time): what
a checkpoint must hold to continue a run exactly does not depend on the
compiler. The resume of a compiled run is test_paper_arch.py's, whose update
is always compiled; the same seed's losses under XLA are test_determinism.py's."""
import csv
import json
import os
import signal
import sys

import numpy as np
import pytest

import gan_2014
import warm_python
from gan_2014_utils import pictures, process, run_folder
from gan_2014_utils import history as run_history
from gan_2014_utils.data import load_data
from helpers import SCRIPT, env_without_xla, make_tiny_mnist, read_until_closed, run_script, start_script, train_without_xla


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


COMMON = ["--batch-size", "16", "--seed", "5", "--checkpoint-interval", "10", "--sample-interval", "10"]


def history(folder):
    with open(os.path.join(folder, "run", "history.csv")) as f:
        return [[r[k] for k in run_history.HISTORY_FIELDS if k != "seconds"] for r in csv.DictReader(f)]


class Uninterrupted:
    """Runs with COMMON's settings that nothing stopped, by length: the reference a
    resumed run must match, history and grids. 40 iterations unless a stopped run
    got further (a busy machine), then as long as needed."""

    def __init__(self, folder):
        self.folder, self.runs = folder, {}
        self.data = make_tiny_mnist(folder / "tiny.npz")

    def __call__(self, epochs=40):
        if epochs not in self.runs:
            where = self.folder / str(epochs)
            where.mkdir()
            train_without_xla(["--data", self.data, *COMMON, "--epochs", str(epochs),
                               "--run-dir", str(where / "run"), "--images", str(where / "images")])
            self.runs[epochs] = where
        return self.runs[epochs]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return Uninterrupted(tmp_path_factory.mktemp("whole"))


def start(folder, data, *extra):
    """A training that would run far longer than any test waits: only a signal ends it."""
    return start_script("--data", data, *COMMON, "--epochs", "100000", "--log-every", "1", *extra, cwd=folder)


def wait_for_iteration(proc, n):
    for line in proc.stdout:
        if line.split(" ", 1)[0].isdigit() and int(line.split(" ", 1)[0]) >= n:
            return
    raise AssertionError("training ended before iteration %d: %s" % (n, proc.stderr.read()))


def checkpoint_iteration(folder):
    with np.load(folder / "run" / "checkpoint.npz") as ckpt:
        return json.loads(str(ckpt["meta"]))["iteration"]


def resume_and_compare(folder, uninterrupted, saved, monkeypatch):
    """Resume (in this process: a new process's start-up proves nothing more) to a
    whole number of grids past the checkpoint; the history and every grid (the
    run's fixed noise, through the checkpoint) must be the uninterrupted run's."""
    epochs = max(40, (saved // 10 + 2) * 10)
    monkeypatch.chdir(folder)
    gan_2014.main(["--data", uninterrupted.data, *COMMON, "--epochs", str(epochs), "--resume"])
    whole = uninterrupted(epochs)
    assert history(folder) == history(whole)
    grids = sorted(pictures.grid_files(folder / "images"))
    assert grids == sorted(pictures.grid_files(whole / "images"))
    assert grids == sorted([f"{i}.png" for i in range(0, epochs + 1, 10)] + ["progress.gif"])
    for name in grids:
        assert (folder / "images" / name).read_bytes() == (whole / "images" / name).read_bytes(), name


def test_sigkill_loses_at_most_a_checkpoint_interval_and_resume_finishes_identically(tmp_path, uninterrupted,
                                                                                   monkeypatch):
    proc = start(tmp_path, uninterrupted.data)
    wait_for_iteration(proc, 25)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = checkpoint_iteration(tmp_path)  # the last good checkpoint is whole
    assert saved >= 20 and saved % 10 == 0  # iteration 25 was done: at most one interval lost
    resume_and_compare(tmp_path, uninterrupted, saved, monkeypatch)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_finishes_the_iteration_checkpoints_and_says_how_to_resume(tmp_path, uninterrupted, sig, code,
                                                                         monkeypatch):
    proc = start(tmp_path, uninterrupted.data)
    wait_for_iteration(proc, 3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "--resume" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    saved = checkpoint_iteration(tmp_path)
    rows = history(tmp_path)
    assert saved >= 3 and int(rows[-1][0]) == saved
    assert f"stopped by {signal.Signals(sig).name} after iteration {saved}" in err
    if sig == signal.SIGTERM:  # and the run goes on from there as if never stopped
        resume_and_compare(tmp_path, uninterrupted, saved, monkeypatch)


def resumed_after_five(tmp_path, tiny_data, tamper):
    """Train 5 iterations (checkpoint at 5), then resume towards 20 with each
    iteration's result passed through tamper(gan, call number, result).
    Returns (the Stopped raised, the checkpoint's bytes at 5)."""
    (x, _), _ = load_data(tiny_data)
    x = gan_2014.GAN.from_pixels(x)
    folder = lambda: run_folder.RunFolder(str(tmp_path / "run"), str(tmp_path / "images"), dict(checkpoint_interval=5))
    gan = gan_2014.GAN(seed=1, jit_compile=False)  # (this file is about checkpoints, not the compiler)
    gan.train(x, epochs=5, batch_size=16, sample_interval=5, run=folder())
    good = (tmp_path / "run" / "checkpoint.npz").read_bytes()
    original, calls = gan.train_iteration, []
    def tampered(*args):
        calls.append(1)
        return tamper(gan, len(calls), original(*args))
    gan.train_iteration = tampered
    with pytest.raises(process.Stopped) as stop:
        run = folder()
        run.meta = run_folder.read_checkpoint(run.path(run_folder.CHECKPOINT), meta_only=True)[0]
        run.restore(gan)
        gan.train(x, epochs=20, batch_size=16, sample_interval=5, run=run)
    return stop.value, good


def test_non_finite_loss_stops_with_the_iteration_and_keeps_the_last_checkpoint(tmp_path, tiny_data):
    def nan_loss(gan, call, result):
        d_real, d_fake, g_loss = result
        return d_real, d_fake, float("nan") if call == 3 else g_loss
    stop, good = resumed_after_five(tmp_path, tiny_data, nan_loss)
    assert "diverged at iteration 8" in str(stop) and stop.saved_at == 5 and stop.code == 1
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == good
    assert run_folder.load_checkpoint(gan_2014.GAN(seed=1), str(tmp_path / "run" / "checkpoint.npz")).iteration == 5


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
    data = uninterrupted.data
    monkeypatch.chdir(tmp_path)
    gan_2014.main(["--data", data, "--epochs", "2", "--batch-size", "16", "--seed", "1"])
    capsys.readouterr()
    ckpt = tmp_path / "run" / "checkpoint.npz"
    good = ckpt.read_bytes()
    for argv, words in [(["--latent-dim", "64"], "--latent-dim 64 conflicts with the run's 100"),
                        ([], None)]:
        if words is None:  # now a truncated file
            ckpt.write_bytes(good[: len(good) // 2])
            words = "run/checkpoint.npz: not a readable .npz archive; put back a whole copy of it, or start a new run with --overwrite"
        before = ckpt.read_bytes()
        with pytest.raises(SystemExit) as exit_info:
            gan_2014.main(["--data", data, "--epochs", "4", "--batch-size", "16", "--resume", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and words in err[0], err
        assert ckpt.read_bytes() == before


def run_with_tampered_iterations(tmp_path, monkeypatch, capsys, tamper, *argv):
    """Train through the command line (in this process) with each iteration
    passed through tamper(call number, run the real iteration); returns
    (exit status, stderr lines)."""
    monkeypatch.chdir(tmp_path)
    make_tiny_mnist(tmp_path / "tiny.npz")
    original, calls = gan_2014.GAN.train_iteration, []
    def tampered(self, *args):
        calls.append(1)
        return tamper(len(calls), lambda: original(self, *args))
    monkeypatch.setattr(gan_2014.GAN, "train_iteration", tampered)
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(["--data", "tiny.npz", "--epochs", "20", "--batch-size", "16", "--seed", "1",
                       "--checkpoint-interval", "5", *argv])
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


def test_a_diverged_run_ends_in_one_line_with_exit_1_naming_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    def nan_loss(call, iterate):
        d_real, d_fake, g_loss = iterate()
        return d_real, d_fake, float("nan") if call == 7 else g_loss
    code, err = run_with_tampered_iterations(tmp_path, monkeypatch, capsys, nan_loss)
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith("gan_2014.py: training diverged at iteration 7 (")
    assert err[0].endswith("; the last checkpoint, iteration 5, is whole in run/checkpoint.npz"), err[0]


def test_a_second_ctrl_c_leaves_at_once_and_the_last_checkpoint_stays_whole(tmp_path, monkeypatch, capsys):
    def interrupted_twice(call, iterate):
        if call == 7:
            os.kill(os.getpid(), signal.SIGINT)  # the first: finish this iteration, then stop...
            os.kill(os.getpid(), signal.SIGINT)  # ...the second, before it finished: leave now
        return iterate()
    code, err = run_with_tampered_iterations(tmp_path, monkeypatch, capsys, interrupted_twice)
    assert code == 130 and len(err) == 1, err
    assert err[0] == ("gan_2014.py: interrupted; files already written are whole; "
                      "the last checkpoint, iteration 5, is whole in run/checkpoint.npz")
    assert checkpoint_iteration(tmp_path) == 5
    gan_2014.main(["--resume", "--epochs", "8"])  # the run goes on from its checkpoint
    assert [int(r[0]) for r in history(tmp_path)] == list(range(1, 9))


def test_a_resumed_runs_progress_bar_counts_the_runs_iterations(tmp_path, monkeypatch, capsys):
    """On a terminal, a run resumed at iteration 3 of 6 shows 4/6, 5/6, 6/6 (not
    1/3): the run's iteration and total; its rate is this process's own."""
    import pty
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    gan_2014.main(["--data", data, "--epochs", "3", "--batch-size", "16", "--seed", "1"])  # here: not on a terminal
    capsys.readouterr()
    leader, follower = pty.openpty()
    proc = warm_python.Popen([sys.executable, SCRIPT, "--resume", "--epochs", "6"], cwd=tmp_path, stdin=follower,
                             stdout=follower, stderr=follower, env=env_without_xla())
    os.close(follower)
    try:
        out = read_until_closed(leader)
    finally:
        proc.wait(timeout=120)
        os.close(leader)
    text = out.decode(errors="replace")
    import re
    shown = re.findall(r"\b(\d+)/(\d+) ", re.sub(r"\x1b\[[0-9;]*m", "", text))  # without the bar's colours
    assert proc.returncode == 0 and shown, text
    assert shown[0] == ("4", "6") and ("6", "6") in shown and ("1", "3") not in shown, shown
