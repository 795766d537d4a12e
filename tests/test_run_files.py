"""A file in the run folder that this run did not write is never taken as the
run's (issue 27): the checkpoint records every file the run wrote with its
sha256, and --resume compares. Table-driven, by class: another run's file of
every kind the folders hold, each identity field of run.json edited, each file
older than the checkpoint. What the run does not write again (its checkpoint,
history, grids up to the checkpoint, run.json's identity) is refused in one
line that names the file (every file byte-identical afterwards) and the fix
the line names works; what it writes again itself (final weights, best/, the
GIF, grids past the checkpoint: issue 36) is set aside, in one line, never
deleted; the plot is redrawn."""
import json
import os
import shutil

import pytest

import gan_2014
from gan_2014_utils import pictures, run_folder
from gan_2014_utils import history as run_history
from helpers import make_tiny_mnist, place_run, train_named_run, tree

TINY = ["--batch-size", "16", "--sample-interval", "3", "--checkpoint-interval", "3", "--eval-every", "3"]
RESUME9 = ["--resume", "--epochs", "9"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A (seed 2) finished at 3, kept as A3, then resumed to 6; B (seed 3) to 6; one data file."""
    folder = tmp_path_factory.mktemp("runs")
    make_tiny_mnist(folder / "tiny.npz")
    train_named_run(folder, "A", *TINY, "--seed", "2", "--epochs", "3")
    shutil.copytree(folder / "A", folder / "A3")
    train_named_run(folder, "A", *TINY, "--resume", "--epochs", "6")
    train_named_run(folder, "B", *TINY, "--seed", "3", "--epochs", "6")
    return folder


@pytest.fixture
def work(runs, tmp_path, monkeypatch):
    """A as if trained here (run/, images/); B in other/ and A at iteration 3 in old/."""
    for name, dest in (("A", tmp_path), ("B", tmp_path / "other"), ("A3", tmp_path / "old")):
        place_run(runs / name, dest, tmp_path / "tiny.npz")
    shutil.copy(runs / "tiny.npz", tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy_in(source, name):
    def damage(w):
        if os.path.isdir(w / name):
            shutil.rmtree(w / name)
        elif os.path.exists(w / name):
            os.remove(w / name)
        (shutil.copytree if os.path.isdir(w / source / name) else shutil.copy)(w / source / name, w / name)
    return damage


def edit_settings(key, value):
    def damage(w):
        settings = json.loads((w / "run/run.json").read_text())
        settings[key] = value
        (w / "run/run.json").write_text(json.dumps(settings, indent=1))
    return damage


def move_away(name):
    return lambda w: os.rename(w / name, w / (name.replace("/", "_") + ".moved"))


def both(*steps):
    return lambda w: [step(w) for step in steps]


REMOVE_SETTINGS = lambda w: os.remove(w / "run/run.json")  # the fix a run.json refusal names: rebuilt

REFUSED = [
    # (case, damage, words in the one line, the fix the line names)
    # another run's file, of every kind the folders hold
    ("another run's checkpoint", copy_in("other", "run/checkpoint.npz"), "belongs to another run", None),
    ("another run's history", copy_in("other", "run/history.csv"), "history.csv belongs to another run",
     move_away("run/history.csv")),
    ("another run's first grid", copy_in("other", "images/0.png"), "images/0.png is not this run's",
     move_away("images/0.png")),
    ("another run's last grid", copy_in("other", "images/6.png"), "images/6.png is not this run's",
     move_away("images/6.png")),
    ("another run's grids without their folder's mark",
     both(copy_in("other", "images"), lambda w: os.remove(w / "images" / pictures.OWNER)),
     "images/0.png is not this run's", move_away("images")),
    ("another run's grid folder, marked", copy_in("other", "images"), "holds another run's grids",
     move_away("images")),
    # run.json edited, each field that makes the run what it is
    ("run.json: batch_size", edit_settings("batch_size", 64), "its batch_size 64 is not the run's 16",
     REMOVE_SETTINGS),
    ("run.json: seed", edit_settings("seed", 5), "its seed 5 is not the run's 2", REMOVE_SETTINGS),
    ("run.json: g_loss", edit_settings("g_loss", "minimax"), "its g_loss 'minimax' is not the run's",
     REMOVE_SETTINGS),
    ("run.json: d_steps", edit_settings("d_steps", 2), "its d_steps 2 is not the run's 1", REMOVE_SETTINGS),
    ("run.json: data_sha256", edit_settings("data_sha256", "0" * 16), "its data_sha256", REMOVE_SETTINGS),
    ("run.json: latent_dim", edit_settings("latent_dim", 64), "its latent_dim 64 is not the run's 100", REMOVE_SETTINGS),
    ("run.json: arch", edit_settings("arch", "paper"), "its arch 'paper' is not the run's 'keras-gan'", REMOVE_SETTINGS),
    ("run.json: run_id", edit_settings("run_id", "f" * 32), "belongs to another run", REMOVE_SETTINGS),
    # files older than the checkpoint: the run's own, from iteration 3
    ("an older history", copy_in("old", "run/history.csv"), "it ends at iteration 3, older than the checkpoint's 6",
     move_away("run/history.csv")),
]


@pytest.mark.parametrize("case, damage, words, fix", REFUSED, ids=[c[0] for c in REFUSED])
def test_a_file_this_run_did_not_write_is_refused_by_name_and_the_named_fix_works(work, capsys, case, damage,
                                                                                  words, fix):
    damage(work)
    before = tree(work)
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(RESUME9)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert words in err, err
    assert tree(work) == before
    if fix is None:
        return
    fix(work)
    gan_2014.main(RESUME9)
    rows = run_history.read_history(str(work / "run/history.csv"), upto=10 ** 9)
    assert rows[-1][0] == 9
    assert json.loads((work / "run/run.json").read_text())["seed"] == 2


SET_ASIDE = [
    # (case, damage, the files set aside): what the run writes again itself, not as its checkpoint recorded it
    ("another run's best/ whole", copy_in("other", "run/best"), ["best/generator.weights.h5", "best/best.json"]),
    ("another run's best/ without its best.json",
     both(copy_in("other", "run/best"), lambda w: os.remove(w / "run/best/best.json")), ["best/generator.weights.h5"]),
    ("another run's best generator beside this run's best.json", copy_in("other", "run/best/generator.weights.h5"),
     ["best/generator.weights.h5", "best/best.json"]),
    ("another run's final generator", copy_in("other", "run/generator.weights.h5"), ["generator.weights.h5"]),
    ("another run's final discriminator", copy_in("other", "run/discriminator.weights.h5"),
     ["discriminator.weights.h5"]),
    ("an older final generator", copy_in("old", "run/generator.weights.h5"), ["generator.weights.h5"]),
    ("an older checkpoint, with the newer files beside it", copy_in("old", "run/checkpoint.npz"),
     ["generator.weights.h5", "discriminator.weights.h5", "images/6.png", "images/progress.gif"]),
    ("another run's GIF", copy_in("other", "images/progress.gif"), ["images/progress.gif"]),
    ("an older GIF", copy_in("old", "images/progress.gif"), ["images/progress.gif"]),
    ("another run's grid past the checkpoint", lambda w: shutil.copy(w / "other/images/6.png", w / "images/9.png"),
     ["images/9.png"]),
]


@pytest.mark.parametrize("case, damage, keys", SET_ASIDE, ids=[c[0] for c in SET_ASIDE])
def test_what_the_run_writes_again_is_set_aside_in_one_line_never_deleted(work, capsys, case, damage, keys):
    """Not refused (a kill can leave any of them: a final generator written before
    its checkpoint, a best/ newer than it) and not deleted: moved to
    run/set-aside/TIME/, byte for byte, said in one line; the run goes on."""
    damage(work)
    placed = {k: (work / ("images/" + k[7:] if k.startswith("images/") else "run/" + k)).read_bytes() for k in keys}
    gan_2014.main(RESUME9)
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if "set aside in" in line]
    (aside,) = (work / "run/set-aside").iterdir()
    moved = sorted(str(p.relative_to(aside)) for p in aside.rglob("*") if p.is_file())
    assert len(said) == 1 and f"{len(moved)} file(s)" in said[0] and f"run/set-aside/{aside.name}/" in said[0], out
    assert {k: (aside / k).read_bytes() for k in keys} == placed  # these, byte for byte (an older
    assert set(moved) - set(keys) <= {"best/generator.weights.h5", "best/best.json"}  # checkpoint: its best too)
    assert run_history.read_history(str(work / "run/history.csv"), upto=10 ** 9)[-1][0] == 9


REBUILT = [
    # (case, damage, the file the run writes again)
    ("another run's plot", copy_in("other", "run/losses.png"), "run/losses.png"),
]


@pytest.mark.parametrize("case, damage, name", REBUILT, ids=[c[0] for c in REBUILT])
def test_what_the_run_can_write_again_is_rebuilt_at_once_and_never_kept(work, capsys, monkeypatch, case, damage,
                                                                       name):
    damage(work)
    foreign = (work / name).read_bytes()
    def interrupted(*args):
        raise KeyboardInterrupt
    original = gan_2014.GAN.train_iteration
    monkeypatch.setattr(gan_2014.GAN, "train_iteration", interrupted)
    with pytest.raises(SystemExit):
        gan_2014.main(RESUME9)  # stopped before its first iteration: the foreign file is gone already
    assert not (work / name).exists() or (work / name).read_bytes() != foreign
    monkeypatch.setattr(gan_2014.GAN, "train_iteration", original)
    gan_2014.main(RESUME9)
    assert (work / name).read_bytes() != foreign


def test_another_runs_final_weights_in_a_finished_run_are_not_its_end(work, capsys):
    """The probe's case: before, they were taken as its own ("already reaches --epochs")."""
    for name in run_folder.FINAL_WEIGHTS:
        shutil.copy(work / "other/run" / name, work / "run" / name)
    gan_2014.main(["--resume"])  # set aside: the run writes its own from its checkpoint
    out = capsys.readouterr().out
    assert "already at iteration 6: writing its final weights" in out and "set aside in" in out
    with pytest.raises(SystemExit):
        gan_2014.main(["--resume"])  # and now they are its end
    assert "already reaches --epochs 6" in capsys.readouterr().err


def test_a_mistyped_data_file_is_named_before_the_run_folder_beside_it(work, capsys):
    before = tree(work)
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(["--data", "../data/mnist.npz"])
    assert exit_info.value.code == 2 and tree(work) == before
    assert "--data ../data/mnist.npz: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("source, noted", [(None, False), ("other", True)], ids=["its own", "another run's"])
def test_sample_says_when_the_best_generator_it_reads_is_not_the_one_its_run_recorded(work, capsys, source, noted):
    """sample and evaluate read what they are given, but say so when a run's
    best/ holds a file its checkpoint did not record."""
    if source:
        copy_in(source, "run/best/generator.weights.h5")(work)
    gan_2014.main(["sample", "--weights", "run/best", "--n", "4", "--out", "s.npy", "--seed", "0"])
    assert ("is not the file its run's checkpoint recorded" in capsys.readouterr().out) == noted
