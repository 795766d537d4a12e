"""TensorBoard (issue 44): every run writes events into its run folder, by
default; they hold exactly history.csv's rows, the grids and the settings;
the real `tensorboard` shows each iteration once after kill -9 and --resume,
live; the folder's rules hold for event files as for the run's other files."""
import json
import os
import shutil

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import events, pictures
from helpers import child, events_of, losses_of, make_tiny_mnist, refused, tensorboard_server, tree, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = ["--batch-size", "16", "--seed", "4", "--sample-interval", "2", "--checkpoint-interval", "3"]
LOSSES = {"loss/d_real": "d_loss_real", "loss/d_fake": "d_loss_fake", "loss/d": "d_loss", "accuracy/d": "d_acc",
          "loss/g": "g_loss"}


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


def history(folder):
    """history.csv's columns by name: {column: [(iteration, value)]}, as TensorBoard keeps them (float32)."""
    import csv
    with open(folder / "run" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return {name: [(int(r["iteration"]), float(np.float32(r[name]))) for r in rows if r[name]]
            for name in ("d_loss_real", "d_loss_fake", "d_loss", "d_acc", "g_loss", "heldout_ll")}


def assert_events_are_history(folder):
    found, _ = events_of(folder / "run")
    rows = history(folder)
    for tag, column in LOSSES.items():
        assert found[tag] == rows[column], tag  # every iteration once, in order, history.csv's value
    grids = sorted(int(n[:-4]) for n in pictures.grid_files(folder / "images") if n != pictures.GIF)
    assert [step for step, _ in found[events.GRID_TAG]] == grids
    for step, png in found[events.GRID_TAG]:
        assert png == (folder / "images" / f"{step}.png").read_bytes()
    return found


def test_events_hold_every_iteration_of_the_history_the_grids_and_the_settings(project, capsys):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "7", "--eval-every", "3"])
    assert "to watch it: tensorboard --logdir run" in capsys.readouterr().out
    found = assert_events_are_history(project)
    assert found["heldout/parzen_ll"] == history(project)["heldout_ll"] and len(found["heldout/parzen_ll"]) == 3
    assert set(found) == set(LOSSES) | {"heldout/parzen_ll", events.GRID_TAG}  # the keras-gan model has no schedule
    _, settings = events_of(project / "run")
    saved = json.loads((project / "run" / "run.json").read_text())
    assert settings == {k: saved[k] for k in ("arch", "seed", "batch_size", "latent_dim", "g_loss", "d_steps",
                                              "train_on_batch", "data_sha256", "backend", "run_id")}


def test_the_authors_model_logs_its_learning_rate_and_momentum_every_iteration(project):
    gan_2014.main(["--arch", "paper", "--data", "tiny.npz", *TINY, "--epochs", "4"])
    found = assert_events_are_history(project)
    rate, momentum = found["schedule/learning_rate"], found["schedule/momentum"]
    assert [s for s, _ in rate] == [s for s, _ in momentum] == [1, 2, 3, 4]
    # mnist.yaml: 0.1 divided by 1.000004 per update; momentum 0.5 in the first pass
    # (computed in float32: exp's rounding, then the product's, each within an ulp of 2**-24)
    np.testing.assert_allclose([v for _, v in rate], [0.1 / 1.000004 ** (s - 1) for s in range(1, 5)],
                               rtol=4 * 2.0 ** -24)
    assert momentum == [(s, 0.5) for s in range(1, 5)]


def test_real_tensorboard_shows_each_iteration_once_after_kill_9_and_resume_live(tmp_path, monkeypatch, capsys):
    for name in ("whole", "killed"):
        (tmp_path / name).mkdir()
        make_tiny_mnist(tmp_path / name / "tiny.npz")
    argv = ["--data", "tiny.npz", *TINY, "--epochs", "8"]
    kill = os.path.join(HERE, "kill_at_write.py")
    monkeypatch.chdir(tmp_path / "whole")
    gan_2014.main(argv)  # the uninterrupted run: here (only the killed one must be a process of its own)
    # the 12th write is losses.png after grid 6: the checkpoint is at 3, the events reach 6
    assert child("tensorflow", kill, 12, *argv, cwd=tmp_path / "killed", check=False).returncode == -9
    with tensorboard_server(tmp_path) as get:
        steps = lambda: [s for _, s, _ in get("/data/plugin/scalars/scalars", run="killed/run", tag="loss/d")]
        assert wait_for(steps, lambda s: s == list(range(1, 7))) == list(range(1, 7))  # what the killed run wrote
        monkeypatch.chdir(tmp_path / "killed")
        gan_2014.main(["--resume"])
        shown = wait_for(lambda: get("/data/plugin/scalars/scalars", run="killed/run", tag="loss/d"),
                         lambda rows: [s for _, s, _ in rows] == list(range(1, 9)))
        assert [(s, v) for _, s, v in shown] == history(tmp_path / "killed")["d_loss"]  # once each, the history's
        tags = get("/data/plugin/scalars/tags")["killed/run"]
        assert set(LOSSES) <= set(tags)
        images = get("/data/plugin/images/images", run="killed/run", tag=events.GRID_TAG)
        assert [i["step"] for i in images] == [0, 2, 4, 6, 8]
        assert get("/data/plugin/images/individualImage?" + images[-1]["query"]) == \
            (tmp_path / "killed" / "images" / "8.png").read_bytes()
    assert losses_of(tmp_path / "killed") == losses_of(tmp_path / "whole")
    assert_events_are_history(tmp_path / "killed")  # on disk too: TensorBoard's other loader shows no zigzag
    capsys.readouterr()


def test_no_tensorboard_writes_no_events_for_the_runs_whole_life(project, capsys):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "3", "--no-tensorboard"])
    gan_2014.main(["--resume", "--epochs", "5"])
    assert not [n for n in os.listdir(project / "run") if "tfevents" in n]
    assert "tensorboard --logdir" not in capsys.readouterr().out
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "3", "--run-dir", "watched", "--images", "watched/images"])
    refused(capsys, ["--resume", "--run-dir", "watched", "--epochs", "5", "--no-tensorboard"],
            "--no-tensorboard conflicts with the run's tensorboard True")


def test_a_moved_run_keeps_its_events_and_continues_them(project, tmp_path):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "4", "--run-dir", "a/run", "--images", "a/images"])
    shutil.move(project / "a", tmp_path / "moved")
    shutil.copy(project / "tiny.npz", tmp_path / "moved" / "tiny.npz")
    gan_2014.main(["--resume", "--run-dir", str(tmp_path / "moved" / "run"), "--data",
                   str(tmp_path / "moved" / "tiny.npz"), "--epochs", "6"])
    found = assert_events_are_history(tmp_path / "moved")
    assert [s for s, _ in found["loss/g"]] == list(range(1, 7))


def test_another_runs_event_files_are_refused_as_its_other_files_are(project, capsys):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "3", "--run-dir", "theirs", "--images", "theirs"])
    foreign = next(n for n in os.listdir(project / "theirs") if "tfevents" in n)
    (project / "run").mkdir()
    shutil.copy(project / "theirs" / foreign, project / "run" / foreign)
    before = tree(project / "run")
    refused(capsys, ["--data", "tiny.npz", *TINY, "--epochs", "3"], f"holds a run's files ({foreign})")
    assert tree(project / "run") == before
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "3", "--overwrite"])  # replaces them, as it says
    assert foreign not in os.listdir(project / "run")
    assert_events_are_history(project)

    shutil.copy(project / "theirs" / foreign, project / "run" / foreign)  # dropped into a run to resume
    before = tree(project)
    refused(capsys, ["--resume", "--epochs", "5"], f"run/{foreign}: TensorBoard events that are not this run's")
    assert tree(project) == before
    os.remove(project / "run" / foreign)

    own = next(n for n in os.listdir(project / "run") if "tfevents" in n)
    with open(project / "run" / own, "r+b") as f:  # one of the run's own, changed where its checkpoint recorded it
        f.seek(40)
        byte = f.read(1)
        f.seek(40)
        f.write(bytes([byte[0] ^ 1]))
    before = tree(project)
    refused(capsys, ["--resume", "--epochs", "5"], f"run/{own} is not this run's TensorBoard events")
    assert tree(project) == before
