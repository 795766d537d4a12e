"""Bad input: one line on stderr naming the problem and the fix, exit 2, no
traceback, and nothing already written touched."""
import os

import numpy as np
import pytest

import gan_2014
from conftest import make_tiny_mnist, run_script


def fail(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("option", ["--epochs", "--batch-size", "--sample-interval", "--latent-dim",
                                    "--checkpoint-interval", "--log-every"])
@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_non_positive_or_non_numeric_option_is_refused(capsys, workdir, option, value):
    line = fail(capsys, [option, value])
    assert option in line


def test_batch_larger_than_the_data_is_refused(capsys, workdir, tiny_data):
    line = fail(capsys, ["--data", tiny_data, "--batch-size", "201"])
    assert "--batch-size 201" in line and "200 training digits" in line


def test_images_path_that_cannot_be_written_is_refused(capsys, workdir, tiny_data):
    (workdir / "a_file").write_text("x")
    line = fail(capsys, ["--data", tiny_data, "--images", str(workdir / "a_file" / "grids")])
    assert "--images" in line and "cannot write" in line


def test_missing_data_file_is_named(capsys, workdir):
    line = fail(capsys, ["--data", "nowhere.npz"])
    assert "nowhere.npz" in line and "no such file" in line


def test_data_that_is_not_an_npz_is_named(capsys, workdir):
    (workdir / "notes.npz").write_text("hello")
    assert "not a readable .npz" in fail(capsys, ["--data", "notes.npz"])
    np.save(workdir / "array.npy", np.zeros((3, 28, 28), np.uint8))
    assert "not a readable .npz" in fail(capsys, ["--data", "array.npy"])


def test_data_missing_keys_are_named(capsys, workdir):
    np.savez(workdir / "half.npz", x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.zeros(4, np.uint8))
    line = fail(capsys, ["--data", "half.npz"])
    assert "missing key(s) x_test, y_test" in line


@pytest.mark.parametrize("key, value, words", [
    ("x_train", np.zeros((8, 32, 32), np.uint8), "x_train is uint8 of shape (8, 32, 32)"),
    ("x_train", np.zeros((8, 28, 28), np.float32), "x_train is float32"),
    ("x_test", np.zeros((8, 784), np.uint8), "x_test is uint8 of shape (8, 784)"),
    ("y_train", np.zeros((7,), np.uint8), "y_train is uint8 of shape (7,)"),
    ("y_test", np.zeros((8,), np.float64), "y_test is float64"),
])
def test_wrong_shapes_or_dtypes_are_named(capsys, workdir, key, value, words):
    arrays = dict(x_train=np.zeros((8, 28, 28), np.uint8), y_train=np.zeros(8, np.uint8),
                  x_test=np.zeros((8, 28, 28), np.uint8), y_test=np.zeros(8, np.uint8))
    arrays[key] = value
    np.savez(workdir / "odd.npz", **arrays)
    assert words in fail(capsys, ["--data", "odd.npz"])


def test_failed_download_names_the_data_option(capsys, workdir, monkeypatch):
    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/mnist.npz: None -- "
                        "[Errno -3] Temporary failure in name resolution")
    import keras
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    line = fail(capsys, [])
    assert "could not download MNIST" in line and "--data FILE" in line


def test_bad_input_leaves_earlier_grids_and_checkpoint_untouched(capsys, workdir, tiny_data):
    (workdir / "images").mkdir()
    (workdir / "run").mkdir()
    (workdir / "images" / "200.png").write_bytes(b"earlier grid")
    (workdir / "run" / "checkpoint.npz").write_bytes(b"earlier checkpoint")
    fail(capsys, ["--data", "missing.npz", "--overwrite"])
    fail(capsys, ["--data", tiny_data, "--batch-size", "1000", "--overwrite"])
    line = fail(capsys, ["--data", tiny_data])  # a new run would replace the checkpoint
    assert "--resume" in line and "--overwrite" in line
    assert (workdir / "images" / "200.png").read_bytes() == b"earlier grid"
    assert (workdir / "run" / "checkpoint.npz").read_bytes() == b"earlier checkpoint"


@pytest.mark.parametrize("argv", [["--data", "missing.npz"], ["sample", "--weights", "nowhere"]])
def test_command_line_error_is_exactly_one_line_on_stderr(tmp_path, argv):
    result = run_script(*argv, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("gan_2014.py: error: ")
    assert ("no such file" if argv[0] == "--data" else "no generator weights") in result.stderr
    assert not os.path.exists(tmp_path / "images") and not os.path.exists(tmp_path / "run")
