"""Your own images (issue 45): --data takes a folder of image files, an .npy or
.npz array, or a Keras data set's name; the networks take the images' size and
colour, kept in run.json, the checkpoint and the weights; grids, the GIF,
sample and evaluate work in colour; bad input is one line, exit 2, nothing
written, class by class; a folder is read once (cached by its file list)."""
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import gan_2014
from gan_2014_utils import files, images as image_sources
from helpers import refused, tree

TINY = ["--batch-size", "8", "--seed", "3", "--sample-interval", "2", "--epochs", "4"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


def pictures(folder, n=24, size=(10, 12), mode="RGB", seed=0, start=0):
    """n PNGs of size (width, height), some in a subfolder, and a file that is no image."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder / "sub", exist_ok=True)
    for i in range(start, start + n):
        channels = 3 if mode == "RGB" else 1
        a = (rng.random((size[1], size[0], channels)) * 255).astype(np.uint8)
        a[..., 0] = 220 if i % 2 else 20
        Image.fromarray(a if channels == 3 else a[..., 0], mode).save(folder / ("sub" if i % 3 else "") / f"{i:03d}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_a_folder_of_colour_images_trains_at_its_size_and_every_command_works_in_colour(project, capsys):
    pictures(project / "pics")
    gan_2014.main(["--data", "pics", *TINY])
    out = capsys.readouterr().out
    assert "read 24 images from pics/: 10x12 colour" in out
    assert json.loads((project / "run" / "run.json").read_text())["image_shape"] == [12, 10, 3]
    for name in ("0.png", "4.png"):
        with Image.open(project / "images" / name) as grid:
            assert grid.mode == "RGB" and grid.size == (3 * (5 * 12 + 2), 3 * (5 * 14 + 2))
            colours = np.asarray(grid)[6:36, 6:36]
            assert np.abs(colours[..., 0].astype(int) - colours[..., 2]).max() > 10  # not grey
    with Image.open(project / "images" / "progress.gif") as gif:
        assert gif.n_frames == 3 and np.asarray(gif.convert("RGB")).std(axis=-1).max() > 5
    gan_2014.main(["sample", "--weights", "run/generator.weights.h5", "--out", "s.npy", "--n", "3"])
    assert np.load(project / "s.npy").shape == (3, 12, 10, 3)  # the shape read from the weights file
    gan_2014.main(["sample", "--weights", "run", "--out", "n.png", "--nearest", "--data", "pics", "--n", "2"])
    gan_2014.main(["sample", "--weights", "run", "--out", "i.gif", "--interpolate", "3", "--n", "2"])
    with Image.open(project / "n.png") as pairs:
        assert pairs.mode == "RGB"
    capsys.readouterr()
    gan_2014.main(["evaluate", "--weights", "run", "--data", "pics", "--samples", "50"])
    out = capsys.readouterr().out
    assert "no test split: its last 2 images are scored" in out and "Parzen LL" in out
    assert "classifier figures are skipped" in out and "10x12 colour images without labels" in out
    refused(capsys, ["evaluate", "--weights", "run", "--data", "other.npy"], "no such file or folder")
    np.save(project / "other.npy", np.zeros((5, 28, 28), np.uint8))
    refused(capsys, ["evaluate", "--weights", "run", "--data", "other.npy"],
            "its images are 28x28x1, the generator's 12x10x3")


@pytest.mark.parametrize("arch", ["keras-gan", "paper"])
def test_arrays_of_images_train_in_grey_and_colour_with_either_model(project, capsys, arch):
    rng = np.random.default_rng(1)
    np.save(project / "faces.npy", (rng.random((20, 24, 40, 3)) * 255).astype(np.uint8))
    np.savez(project / "grey.npz", anything=(rng.random((20, 9, 7)) * 255).astype(np.uint8))
    for data, shape in (("faces.npy", [24, 40, 3]), ("grey.npz", [9, 7, 1])):
        gan_2014.main(["--data", data, "--arch", arch, *TINY, "--run-dir", data + "-run", "--images",
                       data + "-run/images"])
        assert json.loads((project / (data + "-run") / "run.json").read_text())["image_shape"] == shape
        gan_2014.main(["--resume", "--run-dir", data + "-run", "--epochs", "6"])  # the same shape again
        gan_2014.main(["sample", "--weights", data + "-run", "--out", data + ".npy", "--n", "2"])
        assert np.load(project / (data + ".npy")).shape == (2, *shape[:2]) + ((3,) if shape[2] == 3 else ())


def test_a_folders_rules_sizes_to_the_first_image_and_grey_beside_colour_to_colour(project, capsys):
    pictures(project / "mixed", n=6, size=(10, 12))
    pictures(project / "mixed", n=3, size=(20, 8), seed=1, start=6)   # another size
    pictures(project / "mixed", n=3, size=(10, 12), mode="L", seed=2, start=9)  # grey
    gan_2014.main(["--data", "mixed", *TINY])
    line = next(l for l in capsys.readouterr().out.splitlines() if "read 12 images" in l)
    assert "10x12 colour; 3 of another size resized to 10x12 (the first image's); 3 grey ones made colour" in line


def test_a_folder_is_read_once_then_from_the_cache_and_again_when_it_changes(project, capsys, monkeypatch):
    pictures(project / "pics")
    gan_2014.main(["--data", "pics", *TINY])
    assert "read 24 images" in capsys.readouterr().out

    def no_decoding(*args, **kwargs):
        raise AssertionError("the folder was decoded again")
    with monkeypatch.context() as m:
        m.setattr(image_sources, "read_headers", no_decoding)  # a folder's read starts with its headers
        gan_2014.main(["--resume", "--epochs", "6"])  # the run's folder, from the cache
        gan_2014.main(["evaluate", "--weights", "run", "--data", "pics", "--samples", "20"])
    pictures(project / "pics", n=1, start=99)  # one more image: another folder, read anew
    capsys.readouterr()
    refused(capsys, ["--resume", "--epochs", "8"], "are not the run's")


def test_keras_data_sets_by_name_and_offline_in_one_line(project, capsys, monkeypatch):
    import keras
    rng = np.random.default_rng(2)
    fake = ((rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (16, 1))),
            (rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, (4, 1))))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: fake)
    gan_2014.main(["--data", "cifar10", *TINY])
    settings = json.loads((project / "run" / "run.json").read_text())
    assert settings["data"] == "cifar10" and settings["image_shape"] == [32, 32, 3]
    gan_2014.main(["--resume", "--epochs", "6"])  # the data set again, by its name

    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/...: None -- [Errno -3] no network")
    monkeypatch.setattr(keras.datasets.cifar100, "load_data", offline)
    before = tree(project)
    line = refused(capsys, ["--data", "cifar100", *TINY, "--run-dir", "r2", "--images", "r2"],
                   "--data cifar100: could not download Keras's cifar100")
    assert "pass --data with a local copy" in line and tree(project) == before


def forged_png(path, width, height):
    """A PNG whose header claims width x height (far too large to decode), with valid checksums."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))


def symlink_loop(f):
    pictures(f / "loop", n=2)
    os.symlink("..", f / "loop" / "sub" / "up")
    return "loop"


def damaged(f):
    pictures(f / "broken", n=3)
    (f / "broken" / "sub" / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return "broken"


def sixteen_bit(f):
    pictures(f / "deep", n=2)
    Image.fromarray(np.full((12, 10), 40000, np.uint16)).save(f / "deep" / "sub" / "002.png")
    return "deep"


def huge(f):
    pictures(f / "huge", n=2)
    forged_png(f / "huge" / "sub" / "big.png", 100000, 100000)
    return "huge"


# (setup(folder) -> --data, words the one line must hold): each class of bad input
BAD = [
    (lambda f: os.mkdir(f / "empty") or "empty", "--data empty: is empty"),
    (lambda f: os.mkdir(f / "texts") or (f / "texts" / "a.txt").write_text("x") and "texts", "holds no image"),
    (damaged, "broken/sub/001.png is not a readable image"),
    (sixteen_bit, "deep/sub/002.png is a I;16 image (16-bit"),
    (huge, "huge/sub/big.png is too large an image"),
    (symlink_loop, "a symbolic-link loop at loop/sub/up"),
    (lambda f: np.save(f / "f.npy", np.zeros((4, 8, 8), np.float64)) or "f.npy", "float64 pixels (4, 8, 8)"),
    (lambda f: np.save(f / "r.npy", np.zeros((4, 8), np.uint8)) or "r.npy", "an array of shape (4, 8)"),
    (lambda f: np.save(f / "c.npy", np.zeros((4, 8, 8, 2), np.uint8)) or "c.npy", "an array of shape (4, 8, 8, 2)"),
    (lambda f: np.save(f / "w.npy", np.zeros((4, 8, 8), np.uint16)) or "w.npy", "16-bit pixels"),
    (lambda f: np.save(f / "e.npy", np.zeros((0, 8, 8), np.uint8)) or "e.npy", "holds no images"),
    (lambda f: np.savez(f / "two.npz", a=np.zeros((2, 4, 4), np.uint8), b=np.zeros(2)) or "two.npz", "holds a, b"),
]


@pytest.mark.parametrize("setup, words", BAD)
def test_bad_images_are_one_line_exit_2_and_nothing_written(project, capsys, setup, words):
    data = setup(project)
    before = tree(project)
    refused(capsys, ["--data", data, *TINY], words)
    assert tree(project) == before and not (project.parent / "keras-home").exists()


def test_images_too_large_for_memory_are_refused_before_they_are_read(project, capsys, monkeypatch):
    pictures(project / "pics")
    monkeypatch.setattr(files, "available_memory", lambda: 1000)  # what require_memory asks
    monkeypatch.setattr(Image.Image, "convert", lambda *a: (_ for _ in ()).throw(AssertionError("decoded")))
    before = tree(project)
    line = refused(capsys, ["--data", "pics", *TINY], "its 24 images of 10x12 need")
    assert "1000 B is free" in line or "free" in line
    assert tree(project) == before
