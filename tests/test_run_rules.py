"""A run is one folder you can copy, move and kill at any moment (issue 36),
by rule, class by class (docs/runs.md, "The rules"):
1. every path a run keeps is relative to its run folder: a moved or copied run
   resumes as itself, into its own folders;
2. any kill, at any write, resumes to the uninterrupted run's losses: what the
   run writes again itself is rewritten (set aside when it is not as recorded);
3. a lock never writes through a link; a full disk there is one line;
4. no command writes over its input, a run's file, or another kind of file;
5. a file the run did not write is never deleted or taken in silently;
6. crashes that were tracebacks are one line, or work;
7. a generator that is not finite, an archive with a member twice: refused;
8. messages name what the user gave, and a fix that works."""
import errno
import json
import os
import shutil

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import files, pictures
from helpers import losses_of as losses, make_tiny_mnist, refused, tree

TINY = ["--batch-size", "16", "--seed", "4", "--sample-interval", "2", "--checkpoint-interval", "2"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


def grids(folder):
    return {n: (folder / "images" / n).read_bytes() for n in pictures.grid_files(folder / "images")}


# -----------------------------------------------------------------------------
# 1. A run folder is relocatable

@pytest.fixture
def uninterrupted(tmp_path_factory):
    """The same run, trained to 8 in one go elsewhere: what every copy must equal."""
    folder = tmp_path_factory.mktemp("whole")
    make_tiny_mnist(folder / "tiny.npz")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "8"])
    finally:
        os.chdir(cwd)
    return folder


def test_a_run_keeps_its_paths_relative_to_its_run_folder(project):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2"])
    settings = json.loads((project / "run" / "run.json").read_text())
    assert (settings["images"], settings["data"]) == ("../images", "../tiny.npz")


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_moved_or_copied_project_resumes_into_its_own_folders(project, uninterrupted, monkeypatch, how):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "4"])
    moved = project.parent / "elsewhere"
    (shutil.move if how == "moved" else shutil.copytree)(project, moved)
    before = tree(project) if how == "copied" else None
    monkeypatch.chdir(moved)
    gan_2014.main(["--resume", "--epochs", "8"])
    assert losses(moved) == losses(uninterrupted) and grids(moved) == grids(uninterrupted)
    if how == "moved":
        assert not project.exists()  # the old path is not made again
    else:
        assert tree(project) == before  # the original is untouched by its copy
        monkeypatch.chdir(project)
        gan_2014.main(["--resume", "--epochs", "8"])
        assert losses(project) == losses(uninterrupted) and grids(project) == grids(uninterrupted)


def test_a_moved_grid_folder_is_accepted_as_the_runs_and_a_lost_one_is_made_again(project, capsys):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2"])
    os.rename(project / "images", project / "pictures")
    refused(capsys, ["--resume", "--epochs", "4", "--images", "elsewhere"], "conflicts with the run's")
    gan_2014.main(["--resume", "--epochs", "4", "--images", "pictures"])  # holds this run's grids
    assert json.loads((project / "run" / "run.json").read_text())["images"] == "../pictures"
    assert sorted(pictures.grid_files(project / "pictures")) == ["0.png", "2.png", "4.png", "progress.gif"]
    shutil.rmtree(project / "pictures")
    capsys.readouterr()
    gan_2014.main(["--resume", "--epochs", "6"])
    assert "grid folder pictures/ is missing; made again, it holds the grids from iteration 4 on" in \
        capsys.readouterr().out
    assert sorted(pictures.grid_files(project / "pictures")) == ["6.png", "progress.gif"]


def test_an_invalid_run_json_falls_back_to_the_checkpoints_paths_from_the_run_folder(project, capsys, monkeypatch):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2"])
    shutil.move(project, project.parent / "moved")
    monkeypatch.chdir(project.parent / "moved")
    settings = json.loads(open("run/run.json").read())
    open("run/run.json", "w").write(json.dumps(dict(settings, epochs=0)))
    gan_2014.main(["--resume", "--epochs", "4"])
    assert "the run's settings come from its checkpoint" in capsys.readouterr().out
    assert (project.parent / "moved" / "images" / "4.png").exists() and not project.exists()


# -----------------------------------------------------------------------------
# 2. Any kill, at any write, resumes: tests/test_kill_at_every_write.py (its own
#    file, so that the two test processes share its time)


# -----------------------------------------------------------------------------
# 3. Locks never write through a link; a full disk at the lock is one line

@pytest.mark.parametrize("folder", ["run", "images"])
@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_lock_file_that_is_a_link_is_refused_and_the_file_it_names_is_untouched(project, capsys, folder, link):
    (project / "other.csv").write_text("another run's history\n")
    (project / folder).mkdir()
    (os.symlink if link == "symbolic" else os.link)(project / "other.csv", project / folder / ".lock")
    refused(capsys, ["--data", "tiny.npz", *TINY, "--epochs", "2"], "where the run keeps its lock file")
    assert (project / "other.csv").read_text() == "another run's history\n"


def test_a_full_disk_when_the_lock_is_written_is_one_line_and_leaves_no_lock(project, capsys, monkeypatch):
    write = os.write
    def full(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".lock"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(fd, data)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(SystemExit) as e:
        gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2"])
    monkeypatch.setattr(os, "write", write)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 1 and len(err) == 1 and "No space left on device" in err[0] and "bug" not in err[0], err
    assert not (project / "run" / ".lock").exists() and not (project / "run" / "crash.log").exists()


def test_a_full_disk_when_a_file_is_set_aside_is_one_line_and_the_file_stays(project, capsys, monkeypatch):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2"])
    shutil.copy(project / "images" / "0.png", project / "images" / "7.png")  # past the checkpoint: set aside
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(shutil, "move", full)
    with pytest.raises(SystemExit) as e:
        gan_2014.main(["--resume", "--epochs", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 1 and len(err) == 1 and "No space left on device" in err[0] and "bug" not in err[0], err
    assert (project / "images" / "7.png").read_bytes() == (project / "images" / "0.png").read_bytes()


# -----------------------------------------------------------------------------
# 4. No command writes over a file it did not make

@pytest.fixture
def trained(project):
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "2"])
    return project


OUTPUTS = [
    # (case, argv, words)
    ("sample over the run's checkpoint", ["sample", "--weights", "run", "--out", "run/checkpoint.npz"],
     "holds a run's files"),
    ("sample over a run's grid", ["sample", "--weights", "run", "--out", "images/2.png"], "holds a run's files"),
    ("sample over its own data", ["sample", "--weights", "run", "--nearest", "--data", "tiny.npz", "--out", "tiny.npz"],
     "it is this command's input"),
    ("sample over an .npz of other arrays", ["sample", "--weights", "run", "--out", "tiny.npz"],
     "an existing file that this command did not write"),
    ("sample over a file that is not a PNG", ["sample", "--weights", "run", "--out", "notes.png"],
     "an existing file that this command did not write"),
    ("toy over a data file beside its figure", ["toy", "--out", "tiny.png", "--iterations", "2"],
     "an existing file that this command did not write"),
]


@pytest.mark.parametrize("case, argv, words", OUTPUTS, ids=[c[0] for c in OUTPUTS])
def test_an_output_never_replaces_an_input_a_runs_file_or_another_kind_of_file(trained, capsys, case, argv, words):
    (trained / "notes.png").write_text("my notes")
    before = tree(trained)
    refused(capsys, argv, words)
    assert tree(trained) == before


def test_an_output_the_command_wrote_itself_is_replaced(trained, capsys):
    for _ in range(2):
        gan_2014.main(["sample", "--weights", "run", "--n", "4", "--out", "s.npz", "--seed", "1"])
        gan_2014.main(["toy", "--out", "fig.png", "--iterations", "20"])


# -----------------------------------------------------------------------------
# 5. A file the run did not write is never deleted or taken in silently

def test_overwrite_never_removes_files_in_a_folder_no_run_marked(project, capsys):
    (project / "images").mkdir()
    (project / "images" / "3.png").write_bytes(b"my picture")
    before = tree(project)
    refused(capsys, ["--data", "tiny.npz", *TINY, "--epochs", "2", "--overwrite"],
            "holds files named as a run's grids")
    assert tree(project) == before


def test_a_png_dropped_into_the_grid_folder_is_no_frame_of_the_gif(project, monkeypatch):
    from PIL import Image
    original = gan_2014.GAN.train_iteration
    def dropping(gan, *args):
        if not (project / "images" / "3.png").exists():
            shutil.copy(project / "images" / "0.png", project / "images" / "3.png")
        return original(gan, *args)
    monkeypatch.setattr(gan_2014.GAN, "train_iteration", dropping)
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "4"])
    with Image.open(project / "images" / "progress.gif") as gif:
        assert gif.n_frames == 3  # 0, 2 and 4: the run's own grids
    files_recorded = json.loads(str(np.load(project / "run" / "checkpoint.npz")["meta"]))["files"]
    assert "images/3.png" not in files_recorded


# -----------------------------------------------------------------------------
# 6. What crashed with a traceback is one line, or works

@pytest.mark.parametrize("iterations", [1, 3, 10])
def test_a_short_toy_run_draws_one_panel_per_moment(project, capsys, iterations):
    gan_2014.main(["toy", "--out", "fig.png", "--iterations", str(iterations)])
    moments = np.load(project / "fig.npz")["iterations"]
    assert moments[-1] == iterations and (project / "fig.png").exists()


@pytest.mark.parametrize("entry", ["another model's weights", "half of the classifier's file"])
def test_a_cached_classifier_that_is_not_whole_or_not_the_classifier_is_retrained_not_used(trained, capsys, entry):
    import keras
    from gan_2014_utils import evaluation
    key = evaluation.classifier_key(np.load(trained / "tiny.npz")["x_train"], np.load(trained / "tiny.npz")["y_train"])
    path = trained / "cache" / f"classifier-{key}.weights.h5"
    path.parent.mkdir()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]) if entry.startswith("another") \
        else evaluation.build_classifier()
    model.save_weights(path)
    if entry.startswith("half"):
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    gan_2014.main(["evaluate", "--weights", "run", "--data", "tiny.npz", "--samples", "50", "--cache", "cache"])
    assert "training a small MNIST classifier" in capsys.readouterr().out
    evaluation.build_classifier().load_weights(path)  # and the whole classifier cached in its place


# -----------------------------------------------------------------------------
# 7. Bad input accepted before: refused in one line

def test_a_generator_that_is_not_finite_is_refused_by_sample_and_evaluate(project, capsys):
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    for v in gan.generator.weights:
        v.assign(np.full(v.shape, np.nan, np.float32))
    gan.generator.save_weights(str(project / "generator.weights.h5"))
    refused(capsys, ["sample", "--weights", "generator.weights.h5", "--out", "s.npy"], "is not finite")
    refused(capsys, ["evaluate", "--weights", "generator.weights.h5", "--data", "tiny.npz"], "is not finite")
    assert not (project / "s.npy").exists()


def test_an_archive_with_a_member_twice_is_refused(project, capsys):
    import zipfile
    with zipfile.ZipFile(project / "tiny.npz") as zf:
        data = zf.read("x_train.npy")
    with pytest.warns(UserWarning), zipfile.ZipFile(project / "tiny.npz", "a") as zf:
        zf.writestr("x_train.npy", data)  # zipfile warns of the duplicate name
    refused(capsys, ["--data", "tiny.npz", "--epochs", "1"], "member 'x_train.npy' is there twice")


# -----------------------------------------------------------------------------
# 8. Messages name what the user gave, and a fix that works

def test_a_missing_data_file_the_run_recorded_is_named_as_the_runs(trained, capsys):
    os.rename(trained / "tiny.npz", trained / "moved.npz")
    line = refused(capsys, ["--resume", "--epochs", "4"], "the data file the run recorded")
    assert not line.startswith("gan_2014.py: error: --data") and "pass --data FILE" in line
    gan_2014.main(["--resume", "--epochs", "4", "--data", "moved.npz"])


def test_a_history_with_other_columns_is_not_said_to_end_at_iteration_0(trained, capsys):
    path = trained / "run" / "history.csv"
    path.write_text("".join(line.rstrip("\n") + ",extra\n" for line in path.read_text().splitlines(True)))
    line = refused(capsys, ["--resume", "--epochs", "4"], "none of its lines is a row")
    assert "iteration 0" not in line


def test_a_resumed_run_in_use_is_told_to_wait_not_to_pass_images(trained, capsys):
    lock = files.lock_folder(str(trained / "run"))
    try:
        line = refused(capsys, ["--resume", "--epochs", "4"], "is in use by another training")
        assert "--images" not in line and "wait for it to finish" in line
    finally:
        files.unlock_folder(lock)
