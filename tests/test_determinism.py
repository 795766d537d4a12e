"""The same --seed on a CPU gives the same losses; a different seed does not."""
import csv

import gan_2014


def losses(tmp_path, data, seed, name):
    out = tmp_path / name
    gan_2014.main(["--data", data, "--epochs", "6", "--batch-size", "16", "--seed", str(seed),
                   "--images", str(out / "images"), "--run-dir", str(out / "run")])
    with open(out / "run" / "history.csv") as f:
        return [[r[k] for k in ("d_loss_real", "d_loss_fake", "d_acc", "g_loss")] for r in csv.DictReader(f)]


def test_same_seed_gives_the_same_losses(tmp_path, tiny_data):
    first = losses(tmp_path, tiny_data, 7, "a")
    assert first == losses(tmp_path, tiny_data, 7, "b")
    assert first != losses(tmp_path, tiny_data, 8, "c")
