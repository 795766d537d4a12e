"""Every figure the loop logs (history.csv's columns and gan.py's log line),
against its definition on a minibatch whose discriminator outputs are known:
a discriminator whose every weight is 0 but its output bias says D(x) = 0.8 for
any x, real or fake. Then, before any update moves it,

    D loss on real   -log D(x)          = -log 0.8        D accuracy on real  1 (0.8 > 1/2)
    D loss on fake   -log(1 - D(G(z)))  = -log 0.2        D accuracy on fake  0
    D loss, D acc    the two halves' mean (gan.py's 0.5 * np.add)
    G loss           -log D(G(z)) = -log 0.8, or log(1 - D(G(z))) = log 0.2 (minimax)

(Adam moves the bias by about 2e-4 between the keras-gan model's three steps,
so its figures are checked to 1e-3.) And on a real run, every row in range."""
import csv
import math
import re

import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from gan_2014_utils import run_folder
from gan_2014_utils import history as run_history
from gan_2014_utils.data import load_data
from helpers import keep_variables, make_tiny_mnist

D = 0.8


def constant_discriminator(gan, p):
    for v in gan.discriminator.weights:
        v.assign(np.zeros(v.shape, np.float32))
    gan.discriminator.layers[-1].bias.assign([math.log(p / (1 - p))])


def expected(g_loss):
    real, fake = -math.log(D), -math.log(1 - D)
    g = -math.log(D) if g_loss == "non-saturating" else math.log(1 - D)
    return {"d_loss_real": real, "d_loss_fake": fake, "d_loss": (real + fake) / 2, "d_acc": 0.5, "g_loss": g}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    (x, _), _ = load_data(make_tiny_mnist(tmp_path_factory.mktemp("d") / "tiny.npz", n_train=100))
    return x


def one_logged_iteration(gan, digits, folder, capsys):
    folder.mkdir()
    history = gan.train(gan.from_pixels(digits), epochs=1, batch_size=100, sample_interval=1,
                        run=run_folder.RunFolder(str(folder), str(folder), dict(log_every=1)))
    with open(folder / run_history.HISTORY) as f:
        row = next(csv.DictReader(f))
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("1 [")][0]
    return history, row, line


@pytest.mark.parametrize("arch", ["keras-gan", "paper"])
@pytest.mark.parametrize("g_loss", gan_2014.G_LOSSES)
def test_each_logged_figure_is_its_definition_on_a_known_discriminator(arch, g_loss, digits, tmp_path, capsys):
    gan = gan_2014.ARCHS[arch](seed=0, jit_compile=False, g_loss=g_loss)
    constant_discriminator(gan, D)
    want = expected(g_loss)
    tolerance = 1e-3 if arch == "keras-gan" else 1e-5  # the paper's losses all come before its one update

    # what one iteration returns: each half's own loss and accuracy; then every
    # variable (weights, Adam's moments and count, the random stream) as it was,
    # so that the loop starts from the same state (one traced model, not two)
    x = tf.convert_to_tensor(gan.from_pixels(digits))
    put_back = keep_variables(gan)
    (real_loss, real_acc), (fake_loss, fake_acc), g = gan.train_iteration(x, 100)
    put_back()
    assert real_loss == pytest.approx(want["d_loss_real"], rel=tolerance)
    assert fake_loss == pytest.approx(want["d_loss_fake"], rel=tolerance)
    assert (real_acc, fake_acc) == (1.0, 0.0)  # D calls everything real: right on the real half only
    assert g == pytest.approx(want["g_loss"], rel=tolerance)

    # what the loop writes: history.csv and the log line
    history, row, line = one_logged_iteration(gan, digits, tmp_path / "run", capsys)
    for column, value in want.items():
        assert float(row[column]) == pytest.approx(value, rel=tolerance), column
    assert history[0][1:6] == pytest.approx([want[c] for c in ("d_loss_real", "d_loss_fake", "d_loss",
                                                               "d_acc", "g_loss")], rel=tolerance)
    numbers = re.fullmatch(r"1 \[D loss: (\S+), acc\.: (\S+)%\] \[G loss: (\S+)\]", line).groups()
    assert float(numbers[0]) == pytest.approx(want["d_loss"], rel=tolerance)
    assert float(numbers[1]) == pytest.approx(50.0)  # a percentage of the two halves together
    assert float(numbers[2]) == pytest.approx(want["g_loss"], rel=tolerance)


@pytest.mark.parametrize("arch", ["keras-gan", "paper"])
def test_every_logged_row_of_a_real_run_is_in_range(arch, digits, tmp_path, capsys, no_xla):
    gan = gan_2014.ARCHS[arch](seed=1, jit_compile=False)
    (tmp_path / "run").mkdir()
    history = gan.train(gan.from_pixels(digits), epochs=6, batch_size=50, sample_interval=6,
                        run=run_folder.RunFolder(str(tmp_path / "run"), str(tmp_path / "run"), dict(log_every=1)))
    assert len(history) == 6
    for it, real, fake, d_loss, d_acc, g_loss, *_ in history:
        assert real > 0 and fake > 0 and g_loss > 0  # cross-entropies
        assert d_loss == pytest.approx((real + fake) / 2, rel=1e-6)
        assert 0 <= d_acc <= 1
        assert d_acc * 100 == pytest.approx(round(d_acc * 100), abs=1e-4)  # k right of 50 + 50 digits
    for line in capsys.readouterr().out.splitlines():
        if re.match(r"\d+ \[D loss", line):
            assert 0 <= float(line.split("acc.: ")[1].split("%")[0]) <= 100
