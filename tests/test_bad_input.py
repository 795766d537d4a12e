"""Bad input of every kind a user can type or hand us: one line on stderr that
names the problem and the fix, exit status 2, no traceback, and every file
already in the folder byte-identical afterwards."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import generators
from helpers import ROOT, make_tiny_mnist, run_script, strip_identity, train_without_xla, tree

BIG = str(2 ** 70)


def fail(capsys, argv):
    """Run the command line on bad input: exit 2, one line, no traceback, and the
    folder (the test's working folder) exactly as it was. Returns the line."""
    before = tree(os.getcwd())
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert tree(os.getcwd()) == before
    return lines[0]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_tiny_mnist(tmp_path / "tiny.npz")
    return tmp_path


def npz_with(folder, name, **changes):
    arrays = dict(x_train=np.zeros((8, 28, 28), np.uint8), y_train=np.zeros(8, np.uint8),
                  x_test=np.zeros((8, 28, 28), np.uint8), y_test=np.zeros(8, np.uint8))
    arrays.update(changes)
    np.savez(folder / name, **{k: v for k, v in arrays.items() if v is not None})
    return name


def lying_header(folder):
    """An .npz whose x_train claims a billion digits but holds eight."""
    name = npz_with(folder, "liar.npz")
    with zipfile.ZipFile(folder / name) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000, 28, 28), }"
    header += " " * (118 - len(header)) + "\n"
    members["x_train.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() \
        + members["x_train.npy"][128:]
    with zipfile.ZipFile(folder / name, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return name


def zip_of_text(folder):
    with zipfile.ZipFile(folder / "notes.npz", "w") as zf:
        zf.writestr("x_train.npy", "hello")
        zf.writestr("readme.txt", "not an array")
    return "notes.npz"


def fifo(folder):
    os.mkfifo(folder / "pipe.npz")
    return "pipe.npz"


def text_file(folder):
    (folder / "text.npz").write_text("hello")
    return "text.npz"


def float_npy(folder):
    np.save(folder / "array.npy", np.zeros((3, 28, 28), np.float32))
    return "array.npy"


def pickled(folder):
    return npz_with(folder, "pickled.npz", y_train=np.array([None] * 8, dtype=object))


# (argv, setup(folder) -> value for "{}" in argv, words the one line must hold)
DATA_CASES = [
    (["--data", "nowhere.npz"], None, "no such file"),
    (["--data", "{}"], lambda f: os.mkdir(f / "folder") or "folder", "folder: is empty"),
    (["--data", "{}"], fifo, "not a regular file"),
    (["--data", "{}"], text_file, "not a readable .npz"),
    (["--data", "{}"], float_npy, "array.npy: float32 pixels (3, 28, 28)"),
    (["--data", "{}"], zip_of_text, "is not an array"),
    (["--data", "{}"], pickled, "holds Python objects"),
    (["--data", "{}"], lying_header, "claims shape (1000000000, 28, 28)"),
    (["--data", "{}"], lambda f: npz_with(f, "odd.npz", x_train=np.zeros((8, 28), np.uint8)),
     "(x_train): an array of shape (8, 28)"),
    (["--data", "{}"], lambda f: npz_with(f, "odd.npz", x_train=np.zeros((8, 28, 28), np.float32)),
     "(x_train): float32 pixels"),
    (["--data", "{}"], lambda f: npz_with(f, "odd.npz", y_train=np.zeros(7, np.uint8)), "y_train is uint8 of shape (7,)"),
    (["--data", "{}"], lambda f: npz_with(f, "odd.npz", y_test=np.zeros(8, np.float64)), "y_test is float64"),
    (["--data", "{}"], lambda f: npz_with(f, "odd.npz", y_train=np.full(8, 10, np.int16)),
     "y_train holds labels from 10 to 10"),
    (["--data", "{}"], lambda f: npz_with(f, "odd.npz", y_test=np.full(8, -1, np.int16)),
     "y_test holds labels from -1 to -1"),
]

OPTION_CASES = [
    (["--seed", "-5"], "--seed: must be from 0 to 4294967295"),
    (["--seed", BIG], "--seed: must be from 0 to 4294967295"),
    (["--seed", "4294967296"], "--seed: must be from 0 to 4294967295"),
    (["--seed", "1.5"], "--seed: expected a whole number"),
    (["sample", "--weights", "run", "--seed", "-1"], "--seed: must be from 0"),
    (["evaluate", "--weights", "run", "--seed", BIG], "--seed: must be from 0"),
    (["--eval-every", "-1"], "--eval-every"),
    (["--arch", "gan"], "--arch: invalid choice"),
    (["--resume", "--overwrite"], "contradict each other"),
    (["--data", "tiny.npz", "--batch-size", "201"], "--batch-size 201 is larger than the 200 training digits"),
    (["--data", "tiny.npz", "--latent-dim", str(10 ** 7)], "--latent-dim 10000000 needs about"),
    (["--resume"], "--resume: run/ holds no run (run.json and checkpoint.npz are missing)"),
    (["sample", "--weights", "nowhere"], "--weights nowhere: no such file or folder"),
    (["sample", "--weights", "."], "no checkpoint.npz or generator weights"),
    (["sample", "--weights", "run", "--n", str(10 ** 7)], "--n 10000000 needs about"),
    (["sample", "--weights", "run", "--out", "s.jpg"], "end it in .png, .npz or .npy"),
    (["evaluate", "--weights", "run", "--samples", "1"], "--samples: must be at least 2"),
    (["evaluate", "--weights", "run", "--samples", str(10 ** 8)], "--samples 100000000 needs about"),
]


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--sample-interval", "--latent-dim",
                                    "--checkpoint-interval", "--log-every"])
@pytest.mark.parametrize("value", ["0", "-3", "many", BIG + ".5"])
def test_non_positive_or_non_numeric_option_is_refused(capsys, workdir, option, value):
    assert option in fail(capsys, [option, value])


@pytest.mark.parametrize("argv, setup, words", DATA_CASES, ids=[c[2][:30] for c in DATA_CASES])
def test_bad_data_file_is_named_and_nothing_is_written(capsys, workdir, argv, setup, words):
    value = setup(workdir) if setup else None
    line = fail(capsys, [a.replace("{}", value) if value else a for a in argv])  # the folder as it was
    assert words in line and "--data" in line
    assert not os.path.exists(workdir / "images") and not os.path.exists(workdir / "run")


@pytest.mark.parametrize("argv, words", OPTION_CASES, ids=[" ".join(c[0])[:40] for c in OPTION_CASES])
def test_bad_option_is_refused_in_one_line(capsys, workdir, argv, words):
    os.makedirs(workdir / "run")
    assert words in fail(capsys, argv)  # and the folder as it was


def test_failed_download_names_the_data_option(capsys, workdir, monkeypatch):
    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/mnist.npz: None -- "
                        "[Errno -3] Temporary failure in name resolution")
    import keras
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    line = fail(capsys, [])
    assert "could not download MNIST" in line and "--data FILE" in line


def test_images_path_that_cannot_be_written_is_refused(capsys, workdir):
    (workdir / "a_file").write_text("x")
    line = fail(capsys, ["--data", "tiny.npz", "--images", str(workdir / "a_file" / "grids")])
    assert "--images" in line and "cannot write" in line


def test_sample_out_naming_a_folder_is_refused_before_generating(capsys, workdir):
    os.makedirs(workdir / "run")
    os.makedirs(workdir / "grid.png")
    assert "--out grid.png: is a folder" in fail(capsys, ["sample", "--weights", "run", "--out", "grid.png"])


@pytest.mark.parametrize("setup, words", [(None, "no such file"),
                                           (lambda f: os.mkdir(f / "folder") or "folder", "is empty"),
                                           (fifo, "is not a regular file")])
def test_a_bad_data_path_beside_an_existing_run_is_named_before_the_run(capsys, workdir, setup, words):
    """The input first: a mistyped --data next to a finished run and its grids
    names the file, not the folders (whose fix would only lead to this one)."""
    train_without_xla(["--data", "tiny.npz", "--epochs", "2", "--batch-size", "16", "--seed", "0"])
    capsys.readouterr()
    name = "../data/mnist.npz" if setup is None else setup(workdir)
    line = fail(capsys, ["--data", name])
    assert line.startswith(f"gan_2014.py: error: --data {name}: {words}"), line


def test_a_folder_of_weights_files_names_the_generator_files_it_holds(capsys, workdir):
    import shutil
    os.makedirs(workdir / "weights")
    shutil.copy(os.path.join(ROOT, "pretrained", "keras-gan-mnist.weights.h5"), workdir / "weights/b.weights.h5")
    shutil.copy(os.path.join(ROOT, "pretrained", "paper-mnist.weights.h5"), workdir / "weights/a.weights.h5")
    (workdir / "weights/broken.weights.h5").write_bytes(b"not hdf5")  # not a generator: not offered
    line = fail(capsys, ["sample", "--weights", "weights"])
    assert line.endswith("it holds the generator file(s) a.weights.h5, b.weights.h5: pass one, as "
                         f"--weights {os.path.join('weights', 'a.weights.h5')}"), line
    os.remove(workdir / "weights/a.weights.h5")
    os.remove(workdir / "weights/b.weights.h5")
    assert fail(capsys, ["sample", "--weights", "weights"]).endswith(generators.WEIGHTS_WANTED)


@pytest.mark.parametrize("name, content", [("model.keras", b"PK\x03\x04 random bytes"),
                                           ("generator.weights.h5", b"not hdf5 at all"),
                                           ("g.weights.h5", None)])
def test_weights_that_are_not_a_generator_of_ours_are_refused(capsys, workdir, name, content):
    if content is None:  # a real HDF5 file, but not a generator's weights
        import h5py
        with h5py.File(workdir / name, "w") as f:
            f["layers/dense/vars/0"] = np.zeros((3, 7), np.float32)
    else:
        (workdir / name).write_bytes(content)
    line = fail(capsys, ["sample", "--weights", name])
    assert "not a generator weights file of gan_2014" in line


def test_bad_input_leaves_earlier_grids_and_checkpoint_untouched(capsys, workdir):
    (workdir / "images").mkdir()
    (workdir / "run").mkdir()
    (workdir / "images" / "200.png").write_bytes(b"earlier grid")
    (workdir / "run" / "checkpoint.npz").write_bytes(b"earlier checkpoint")
    before = tree(workdir)
    fail(capsys, ["--data", "missing.npz", "--overwrite"])
    fail(capsys, ["--data", "tiny.npz", "--batch-size", "1000", "--overwrite"])
    fail(capsys, ["--data", "tiny.npz", "--latent-dim", str(10 ** 8), "--overwrite"])
    line = fail(capsys, ["--data", "tiny.npz"])  # a new run would replace the checkpoint
    assert "--resume" in line and "--overwrite" in line
    assert tree(workdir) == before


@pytest.mark.parametrize("argv", [["--data", "missing.npz"], ["sample", "--weights", "nowhere"],
                                  ["--seed", "-5"]])
def test_command_line_error_is_exactly_one_line_on_stderr(tmp_path, argv):
    result = run_script(*argv, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("gan_2014.py: error: ")
    assert not os.path.exists(tmp_path / "images") and not os.path.exists(tmp_path / "run")


# --- a run folder a user (or a crash) has edited ---

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 4-iteration run to copy and damage."""
    folder = tmp_path_factory.mktemp("finished")
    data = make_tiny_mnist(folder / "tiny.npz")
    train_without_xla(["--data", data, "--epochs", "4", "--batch-size", "16", "--seed", "1",
                       "--images", str(folder / "images"), "--run-dir", str(folder / "run")])
    return folder


def edit_checkpoint(path, meta=None, drop=None, replace=None):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    m = json.loads(str(arrays["meta"]))
    if meta is not None:
        m.update(meta)
        arrays["meta"] = np.array(json.dumps(m))
    if drop:
        del arrays[drop]
    if replace:
        arrays.update(replace)
    np.savez(path, **arrays)


def first_key(path, prefix):
    with np.load(path) as f:
        return next(k for k in f.files if k.startswith(prefix))


def edit_settings(path, **changes):
    settings = json.loads(path.read_text())
    settings.update(changes)
    path.write_text(json.dumps(settings))


RUN_EDITS = [
    ("iteration not a number", lambda r: edit_checkpoint(r / "checkpoint.npz", meta={"iteration": "abc"}),
     "no valid 'iteration'"),
    ("negative iteration", lambda r: edit_checkpoint(r / "checkpoint.npz", meta={"iteration": -3}),
     "no valid 'iteration'"),
    ("metadata not JSON", lambda r: edit_checkpoint(r / "checkpoint.npz", replace={"meta": np.array("{oops")}),
     "metadata is missing or not JSON"),
    ("array missing", lambda r: edit_checkpoint(r / "checkpoint.npz", drop=first_key(r / "checkpoint.npz", "generator/")),
     "is missing"),
    ("array of the wrong shape", lambda r: edit_checkpoint(
        r / "checkpoint.npz", replace={first_key(r / "checkpoint.npz", "generator/"): np.zeros((3, 3), np.float32)}),
     "this model's is float32 (100, 256)"),
    ("array of the wrong kind", lambda r: edit_checkpoint(
        r / "checkpoint.npz", replace={first_key(r / "checkpoint.npz", "generator/"): np.zeros((100, 256), np.int64)}),
     "is int64 (100, 256)"),
    ("fixed noise of the wrong shape", lambda r: edit_checkpoint(
        r / "checkpoint.npz", replace={"fixed_noise": np.zeros((25, 7), np.float32)}), "fixed_noise is not 25"),
    ("truncated checkpoint", lambda r: (r / "checkpoint.npz").write_bytes((r / "checkpoint.npz").read_bytes()[:5000]),
     "not a readable .npz archive"),
    ("run.json garbage, checkpoint without settings", lambda r: (
        (r / "run.json").write_bytes(b"\x00\xff garbage"), strip_identity(r / "checkpoint.npz")),
     "run/run.json is unreadable (UnicodeDecodeError) and its checkpoint has no copy"),
    ("run.json wrong type, checkpoint without settings", lambda r: (
        edit_settings(r / "run.json", batch_size="16"), strip_identity(r / "checkpoint.npz")),
     "run/run.json is no valid 'batch_size' and its checkpoint has no copy"),
    ("run.json missing, checkpoint without settings", lambda r: (
        os.remove(r / "run.json"), strip_identity(r / "checkpoint.npz")),
     "run/run.json is missing and its checkpoint has no copy"),
]


@pytest.mark.parametrize("name, damage, words", RUN_EDITS, ids=[c[0] for c in RUN_EDITS])
def test_edited_run_folder_is_refused_and_left_as_it_was(capsys, tmp_path, monkeypatch, finished_run, name,
                                                         damage, words):
    import shutil
    shutil.copytree(finished_run, tmp_path / "copy")
    monkeypatch.chdir(tmp_path / "copy")
    edit_settings(tmp_path / "copy" / "run" / "run.json", data=str(tmp_path / "copy" / "tiny.npz"),
                  images=str(tmp_path / "copy" / "images"))
    damage(tmp_path / "copy" / "run")
    before = tree(tmp_path / "copy")
    line = fail(capsys, ["--resume", "--epochs", "8"])
    assert words in line, line
    assert "--overwrite" in line
    assert tree(tmp_path / "copy") == before


@pytest.mark.parametrize("argv, words", [
    (["--seed", "2"], "--seed 2 conflicts with the run's 1"),
    (["--batch-size", "8"], "--batch-size 8 conflicts with the run's 16"),
    (["--latent-dim", "64"], "--latent-dim 64 conflicts with the run's 100"),
    (["--images", "elsewhere"], "conflicts with the run's"),
    (["--epochs", "4"], "already reaches --epochs 4"),
    (["--data", "other.npz", "--epochs", "8"], "are not the run's"),
])
def test_resume_refuses_options_that_contradict_the_run(capsys, tmp_path, monkeypatch, finished_run, argv, words):
    import shutil
    shutil.copytree(finished_run, tmp_path / "copy")
    monkeypatch.chdir(tmp_path / "copy")
    edit_settings(tmp_path / "copy" / "run" / "run.json", data=str(tmp_path / "copy" / "tiny.npz"),
                  images=str(tmp_path / "copy" / "images"))
    make_tiny_mnist(tmp_path / "copy" / "other.npz", seed=1)
    before = tree(tmp_path / "copy")
    assert words in fail(capsys, ["--resume", *argv])
    assert tree(tmp_path / "copy") == before


BEFORE_TENSORFLOW = [
    ["--epochs", "0"],
    ["--data", "missing.npz"],
    ["--data", "text.npz"],
    ["--data", "tiny.npz", "--batch-size", "201"],
    ["--data", "tiny.npz", "--latent-dim", str(10 ** 9)],
    ["--resume"],
    ["sample", "--weights", "nowhere"],
    ["sample", "--weights", "text.npz"],
    ["sample", "--weights", "tiny.npz", "--out", "s.jpg"],
    ["evaluate", "--weights", "nowhere", "--data", "tiny.npz"],
    ["evaluate", "--weights", "text.npz", "--samples", "1"],
]


def test_bad_input_is_refused_before_tensorflow_loads(tmp_path):
    """Each refusal above comes before `import tensorflow`: a fraction of a second, and no notices."""
    make_tiny_mnist(tmp_path / "tiny.npz")
    (tmp_path / "text.npz").write_text("hello")
    code = ("import sys; sys.path.insert(0, %r); import gan_2014\n"
            "for argv in %r:\n"
            "    try:\n"
            "        gan_2014.main(argv)\n"
            "    except SystemExit as e:\n"
            "        assert e.code == 2, (argv, e.code)\n"
            "    else:\n"
            "        raise AssertionError(argv)\n"
            "    assert 'tensorflow' not in sys.modules, argv\n"
            "print('ok')\n" % (ROOT, BEFORE_TENSORFLOW))
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
    assert len(result.stderr.splitlines()) == len(BEFORE_TENSORFLOW)  # one line each
