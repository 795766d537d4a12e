"""A run folder remembers its run, belongs to one process at a time, and never
mixes or loses what two runs wrote; an unexpected failure still ends in one line."""
import csv
import json
import os
import signal
import subprocess

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import evaluation, files, generators, pictures, recorder, run_folder, train
from gan_2014_utils import history as run_history
from helpers import make_tiny_mnist, place_run, start_script, train_without_xla, tree

TINY = ["--epochs", "6", "--batch-size", "16", "--sample-interval", "3", "--checkpoint-interval", "3"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_tiny_mnist(tmp_path / "tiny.npz")
    return tmp_path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished TINY run (seed 2), trained once: tests copy it, never change it."""
    folder = tmp_path_factory.mktemp("tiny_run")
    make_tiny_mnist(folder / "tiny.npz")
    train_without_xla(["--data", str(folder / "tiny.npz"), "--seed", "2", *TINY,
                       "--run-dir", str(folder / "run"), "--images", str(folder / "images")])
    return folder


def copy_run(template, workdir):
    """The template's run/ and images/ in workdir, as if trained there (run.json's paths moved)."""
    place_run(template, workdir, workdir / "tiny.npz")


def one_line_error(capsys, argv, code=2):
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def losses(folder):
    with open(os.path.join(folder, "history.csv")) as f:
        return [[r[k] for k in run_history.HISTORY_FIELDS[:6]] for r in csv.DictReader(f)]


def test_run_json_records_the_settings_and_resume_needs_no_option(workdir, capsys):
    gan_2014.main(["--data", "tiny.npz", "--seed", "11", "--latent-dim", "32", *TINY[:4], "--epochs", "4"])
    settings = json.loads((workdir / "run" / "run.json").read_text())
    assert {k: settings[k] for k in ("arch", "latent_dim", "batch_size", "seed", "epochs")} == \
        dict(arch="keras-gan", latent_dim=32, batch_size=16, seed=11, epochs=4)
    assert settings["data"] == "../tiny.npz" and len(settings["data_sha256"]) == 16  # from the run folder
    capsys.readouterr()
    os.chdir(workdir / "run")  # from anywhere: the data and the grids are found from run.json
    gan_2014.main(["--resume", "--run-dir", ".", "--epochs", "6", "--sample-interval", "2"])
    out = capsys.readouterr().out
    assert "seed 11" in out and "resuming from iteration 4" in out
    gan_2014.main(["--data", str(workdir / "tiny.npz"), "--seed", "11", "--latent-dim", "32", "--batch-size", "16",
                   "--epochs", "6", "--run-dir", str(workdir / "whole"), "--images", str(workdir / "whole_images")])
    assert losses(workdir / "run") == losses(workdir / "whole")
    assert sorted(pictures.grid_files(workdir / "images")) == ["0.png", "4.png", "6.png", "progress.gif"]


def test_sample_and_evaluate_work_on_an_interrupted_run_from_its_checkpoint(workdir, tiny_run, capsys,
                                                                           classifier_cache):
    copy_run(tiny_run, workdir)
    for name in ("generator.weights.h5", "discriminator.weights.h5"):  # as a run stopped by Ctrl-C has them
        os.remove(workdir / "run" / name)
    gan_2014.main(["sample", "--weights", "run", "--n", "4", "--out", "s.npy", "--seed", "0"])
    gan = gan_2014.GAN(seed=0)
    run_folder.load_checkpoint(gan, str(workdir / "run" / "checkpoint.npz"))
    expected = evaluation.generate(gan, 4, 0)
    np.testing.assert_allclose(np.load(workdir / "s.npy"), expected, atol=1e-6)
    gan_2014.main(["evaluate", "--weights", "run", "--data", "tiny.npz", "--samples", "50",
                   "--cache", classifier_cache])
    assert "generator (50 samples)" in capsys.readouterr().out


def test_a_checkpoint_given_as_weights_is_read_as_its_run_folder_is(workdir, tiny_run, capsys):
    copy_run(tiny_run, workdir)
    for weights, out in (("run", "a.npy"), ("run/checkpoint.npz", "b.npy")):
        gan_2014.main(["sample", "--weights", weights, "--n", "4", "--out", out, "--seed", "0"])
    np.testing.assert_array_equal(np.load(workdir / "a.npy"), np.load(workdir / "b.npy"))


def test_checkpoint_keys_name_each_variable_and_survive_other_models_in_the_process(workdir):
    first = gan_2014.GAN(seed=3)
    keys = list(first.state_variables())
    assert "generator/0-Dense/kernel" in keys and "d_adam/discriminator/1-Dense/kernel/velocity" in keys
    assert not [k for k in keys if k.startswith("v") and k[1:].isdigit()]
    gan_2014.PaperGAN(seed=0)  # other models shift Keras's global layer names...
    second = gan_2014.GAN(seed=4)
    assert list(second.state_variables()) == keys  # ...but not the checkpoint's keys
    noise = np.zeros((25, 100), np.float32)
    run_folder.write_checkpoint(first, str(workdir / "c.npz"), 7, 1.0, noise, None, collapsed_since=None, files={})
    assert run_folder.load_checkpoint(second, str(workdir / "c.npz")).iteration == 7
    for (k, a), b in zip(first.state_variables().items(), second.state_variables().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    # every Adam variable but the constant learning rate is saved
    for opt in (second.discriminator.optimizer, second.combined.optimizer):
        saved = {id(v) for v in second.state_variables().values()}
        assert [v.name for v in opt.variables if id(v) not in saved] == ["learning_rate"]


def test_a_folder_in_use_is_refused_naming_the_other_process(workdir, capsys):
    os.makedirs(workdir / "run")
    lock = files.lock_folder(str(workdir / "run"))
    try:
        line = one_line_error(capsys, ["--data", "tiny.npz", *TINY])
        assert f"run/ is in use by another training (process {os.getpid()})" in line
        (workdir / "run" / "run.json").write_text("{}")
        line = one_line_error(capsys, ["--resume"])
        assert "in use by another training" in line
    finally:
        files.unlock_folder(lock)


def test_two_trainings_started_on_one_folder_cannot_mix(workdir, capsys):
    first = start_script("--data", "tiny.npz", "--epochs", "400", "--batch-size", "16", "--log-every", "1",
                         "--checkpoint-interval", "50", cwd=workdir)
    for line in first.stdout:
        if line.startswith("2 ["):
            break
    line = one_line_error(capsys, ["--data", "tiny.npz", "--epochs", "5", "--overwrite"])  # the second, here
    assert f"run/ is in use by another training (process {first.pid})" in line
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=120)
    assert first.returncode == 130
    rows = losses(workdir / "run")
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))  # one run's history, whole


def test_a_lock_left_by_a_dead_process_blocks_nobody(workdir):
    os.makedirs(workdir / "run")
    (workdir / "run" / ".lock").write_text("999999")  # as a kill -9 leaves it: the file, no lock held
    gan_2014.main(["--data", "tiny.npz", *TINY])
    assert not os.path.exists(workdir / "run" / ".lock")
    assert [int(r[0]) for r in losses(workdir / "run")] == list(range(1, 7))


def test_grids_of_another_run_are_refused_then_replaced_whole_by_overwrite(workdir, capsys):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "9"])
    before = tree(workdir / "images")
    line = one_line_error(capsys, ["--data", "tiny.npz", *TINY, "--run-dir", "r2"])
    assert "--images" in line and "another run's grids" in line and "--overwrite" in line
    assert tree(workdir / "images") == before and not os.path.exists(workdir / "r2")
    gan_2014.main(["--data", "tiny.npz", *TINY, "--run-dir", "r2", "--overwrite", "--sample-interval", "6"])
    assert sorted(os.listdir(workdir / "images")) == [".gan_2014-run", "0.png", "6.png", "progress.gif"]
    from PIL import Image
    with Image.open(workdir / "images" / "progress.gif") as gif:
        assert gif.n_frames == 2  # this run's frames only, none of the first run's


def test_overwrite_replaces_the_old_runs_files_in_the_run_folder(workdir, capsys):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--eval-every", "3"])
    assert os.path.exists(workdir / "run" / "best" / "generator.weights.h5")
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2", "--overwrite"])
    assert not os.path.exists(workdir / "run" / "best" / "generator.weights.h5")
    assert [int(r[0]) for r in losses(workdir / "run")] == [1, 2]


def test_a_run_killed_before_its_first_checkpoint_keeps_its_history(workdir, tiny_run, capsys):
    copy_run(tiny_run, workdir)
    # as a kill before the first checkpoint (iteration 3) leaves it: two rows, no checkpoint, no weights
    for name in ("checkpoint.npz", "generator.weights.h5", "discriminator.weights.h5"):
        os.remove(workdir / "run" / name)
    run_history.write_history(str(workdir / "run" / "history.csv"),
                           run_history.read_history(str(workdir / "run" / "history.csv"), upto=2))
    settings = json.loads((workdir / "run" / "run.json").read_text())
    (workdir / "run" / "run.json").write_text(json.dumps(dict(settings, checkpointed=False)))
    before = tree(workdir / "run")
    line = one_line_error(capsys, ["--data", "tiny.npz", *TINY])
    assert "already holds a run" in line and tree(workdir / "run") == before
    gan_2014.main(["--resume"])
    assert "starting again (no checkpoint yet)" in capsys.readouterr().out
    assert [int(r[0]) for r in losses(workdir / "run")] == list(range(1, 7))


def test_temporary_files_a_kill_left_are_removed_by_the_next_start(workdir, tiny_run, capsys):
    copy_run(tiny_run, workdir)
    for folder in ("run", "images"):
        (workdir / folder / ".tmp-checkpoint.npz-abc123.npz").write_bytes(b"half a file")
    (workdir / "run" / "notes.txt").write_text("the user's own file")
    gan_2014.main(["--resume", "--epochs", "7"])
    assert not [n for f in ("run", "images") for n in os.listdir(workdir / f) if n.startswith(".tmp-")]
    assert (workdir / "run" / "notes.txt").read_text() == "the user's own file"


def test_damaged_history_and_stray_grids_do_not_stop_a_run(workdir, tiny_run, capsys):
    copy_run(tiny_run, workdir)
    with open(workdir / "run" / "history.csv", "ab") as f:
        f.write(b"\x00\xff\xfe garbage\n" + b"7," * 500000 + b"\n3,not,a,row\n")
    (workdir / "images" / "007.png").write_bytes(b"the user's file, not a grid")
    gan_2014.main(["--resume", "--epochs", "9"])
    assert [int(r[0]) for r in losses(workdir / "run")] == list(range(1, 10))
    assert os.path.getsize(workdir / "images" / "progress.gif") > 0
    assert (workdir / "images" / "007.png").read_bytes() == b"the user's file, not a grid"


def test_an_unexpected_error_ends_in_one_line_and_a_crash_log(workdir, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something nobody foresaw\nsecond line")
    monkeypatch.setattr(recorder, "plot_history", broken)
    line = one_line_error(capsys, ["--data", "tiny.npz", *TINY], code=1)
    assert "unexpected error: RuntimeError: something nobody foresaw" in line
    assert "no checkpoint was written yet" in line and "run/crash.log" in line
    log = (workdir / "run" / "crash.log").read_text()
    assert "Traceback" in log and "something nobody foresaw" in log
    assert not os.path.exists(workdir / "run" / ".lock")


def test_a_write_that_fails_ends_in_one_line_and_keeps_the_last_checkpoint(workdir, tiny_run, capsys, monkeypatch):
    copy_run(tiny_run, workdir)
    good = (workdir / "run" / "checkpoint.npz").read_bytes()
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", full_disk)
    line = one_line_error(capsys, ["--resume", "--epochs", "9"], code=1)
    assert "could not write" in line and "checkpoint.npz (No space left on device)" in line
    assert "it needs about" in line and "the last checkpoint, iteration 6, is whole" in line
    assert (workdir / "run" / "checkpoint.npz").read_bytes() == good
    assert not [n for n in os.listdir(workdir / "run") if n.startswith(".tmp-")]


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and permission to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_disk_ends_in_one_line_and_keeps_the_last_checkpoint(workdir, small_disk, capsys):
    # a 24 MB checkpoint fits once in 40 MB; its second writing does not
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(["--data", "tiny.npz", "--epochs", "20", "--batch-size", "16", "--checkpoint-interval", "5",
                       "--sample-interval", "5", "--run-dir", str(small_disk / "run"),
                       "--images", str(small_disk / "images")])
    stderr = capsys.readouterr().err
    err = stderr.strip().splitlines()
    assert exit_info.value.code == 1 and len(err) == 1 and "Traceback" not in stderr, stderr
    assert "No space left on device" in err[-1] and "is whole in" in err[-1], err[-1]
    with np.load(small_disk / "run" / "checkpoint.npz") as f:
        assert json.loads(str(f["meta"]))["iteration"] == 5
    assert not [n for n in os.listdir(small_disk / "run") if n.startswith(".tmp-")]


def test_eval_every_logs_a_held_out_curve_and_keeps_the_best_generator(workdir, capsys, monkeypatch):
    """best/ holds the generator that scored best, not the last one: the last
    estimate is made to lose (the real estimate minus 1,000), and best/ is scored
    again from its own file."""
    real_monitor, monitors = evaluation.heldout_monitor, []
    def last_estimate_loses(x_sigma, x_scored):
        monitor, calls = real_monitor(x_sigma, x_scored), []
        monitors.append(monitor)
        def scored(gan):
            calls.append(1)
            ll, se, sigma = monitor(gan)
            return (ll - 1000 if len(calls) == 3 else ll), se, sigma
        return scored
    monkeypatch.setattr(train, "heldout_monitor", last_estimate_loses)
    gan_2014.main(["--data", "tiny.npz", *TINY, "--eval-every", "2"])
    out = capsys.readouterr().out
    assert "held-out estimate every 2 on training digits" in out and "which the model also trains on" in out
    with open(workdir / "run" / "history.csv") as f:
        measured = {int(r["iteration"]): float(r["heldout_ll"]) for r in csv.DictReader(f) if r["heldout_ll"]}
    assert sorted(measured) == [2, 4, 6]
    best = json.loads((workdir / "run" / "best" / "best.json").read_text())
    assert best["iteration"] == max(measured, key=measured.get) != 6 and best["arch"] == "keras-gan"
    assert best["heldout_ll"] == pytest.approx(max(measured.values()), abs=1e-3)
    rescored = monitors[0](generators.load_generator(generators.describe_generator(str(workdir / "run" / "best"), gan_2014.ARCHS), gan_2014.ARCHS))
    assert rescored[0] == pytest.approx(best["heldout_ll"], abs=1e-3)
    last = monitors[0](generators.load_generator(generators.describe_generator(str(workdir / "run"), gan_2014.ARCHS), gan_2014.ARCHS))
    assert last[0] != pytest.approx(rescored[0], abs=1e-3)  # the last generator scores otherwise
    gan_2014.main(["sample", "--weights", "run/best", "--n", "4", "--out", "b.npy", "--seed", "1"])
    assert np.load(workdir / "b.npy").shape == (4, 28, 28)


def test_progress_shows_recent_values_not_the_mean_since_the_start():
    recent = run_history.RecentMean(100)
    for i in range(1000):
        recent.add(float(i), 1.0)
    assert recent.mean() == pytest.approx([949.5, 1.0])
