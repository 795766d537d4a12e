"""The design card's smoke test: a few iterations end to end through the command line."""
import csv
import os
import re

from helpers import is_png, train_script


def test_command_line_run_writes_grids_history_and_weights(tmp_path, tiny_data):
    result = train_script("--data", tiny_data, "--epochs", 7, "--batch-size", 16,
                          "--sample-interval", 3, "--seed", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # the untrained generator, every 3 iterations, and after the last one
    grids = sorted(n for n in os.listdir(tmp_path / "images") if n != ".gan_2014-run")
    assert grids == ["0.png", "3.png", "6.png", "7.png", "progress.gif"]
    assert all(is_png(tmp_path / "images" / g) for g in grids if g.endswith(".png"))
    lines = [l for l in result.stdout.splitlines() if re.match(r"^\d+ \[", l)]
    assert [int(l.split()[0]) for l in lines] == [3, 6, 7]
    assert all(re.fullmatch(r"\d+ \[D loss: -?\d+\.\d{6}, acc\.: \d+\.\d\d%\] \[G loss: -?\d+\.\d{6}\]", l)
               for l in lines)
    with open(tmp_path / "run" / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 8))
    for name in ("run.json", "losses.png", "checkpoint.npz", "generator.weights.h5", "discriminator.weights.h5"):
        assert os.path.getsize(tmp_path / "run" / name) > 0
    assert is_png(tmp_path / "run" / "losses.png")
    # written via temporary files, yet ordinary files: the umask's permissions, not mkstemp's 0600
    umask = os.umask(0)
    os.umask(umask)
    for path in [tmp_path / "images" / "7.png", tmp_path / "run" / "checkpoint.npz",
                 tmp_path / "run" / "generator.weights.h5"]:
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    # no temporary file and no lock is left behind
    left = os.listdir(tmp_path / "run") + os.listdir(tmp_path / "images")
    assert not [n for n in left if n.startswith(".tmp-") or n == ".lock"], left


def test_grid_is_a_5x5_mosaic_of_the_fixed_noise_scaled_to_0_1(tmp_path, tiny_data):
    import numpy as np
    from PIL import Image
    import gan_2014
    gan = gan_2014.GAN(seed=0)
    noise = np.random.default_rng(0).normal(size=(25, 100)).astype("float32")
    gan.sample_images(5, str(tmp_path), noise)
    img = np.asarray(Image.open(tmp_path / "5.png"))
    pad, scale = 2, 3
    assert img.shape == ((5 * 30 + pad) * scale,) * 2
    expected = 0.5 * gan.generator(noise, training=False).numpy() + 0.5
    # the digit in row 2, column 3, down-sampled back to 28x28
    top, left = (pad + 2 * 30) * scale, (pad + 3 * 30) * scale
    cell = img[top:top + 28 * scale:scale, left:left + 28 * scale:scale] / 255.0
    assert np.abs(cell - expected[13, :, :, 0]).max() <= 1 / 255 + 1e-6
