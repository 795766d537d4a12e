"""--arch paper: the authors' released MNIST model (goodfeli/adversarial mnist.yaml)."""
import math
import os

import numpy as np
import pytest

import gan_2014
from conftest import make_tiny_mnist


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paper")
    data = make_tiny_mnist(folder / "tiny.npz")
    (x, _), _ = gan_2014.load_mnist(data)
    means = x.reshape(len(x), -1).mean(0) / 255.0
    means[:2] = 0.0, 1.0  # a never-lit pixel (MNIST's corners) and an always-lit one, for the clip
    gan = gan_2014.GAN(seed=0, arch="paper", pixel_means=means)
    return folder, data, x, gan, means


def test_paper_networks_have_the_yaml_layers_and_sizes(paper):
    *_, gan, _ = paper
    g_dense = [l for l in gan.generator.layers if isinstance(l, gan_2014.layers.Dense)]
    assert [d.units for d in g_dense] == [1200, 1200, 784]
    assert [d.activation.__name__ for d in g_dense] == ["relu", "relu", "sigmoid"]
    assert gan.generator.count_params() == 2_503_984
    kinds = [type(l).__name__ for l in gan.discriminator.layers]
    assert kinds == ["Flatten", "Dropout", "Dense", "MaxoutLayer", "Dropout", "Dense", "MaxoutLayer",
                     "Dropout", "Dense"]
    drops = [l.rate for l in gan.discriminator.layers if isinstance(l, gan_2014.layers.Dropout)]
    assert drops == pytest.approx([0.2, 0.5, 0.5])  # keep 0.8 on the input, 0.5 on hidden units
    assert gan.discriminator.count_params() == 784 * 1200 + 1200 + 240 * 1200 + 1200 + 240 + 1
    assert np.abs(g_dense[0].kernel.numpy()).max() <= 0.05
    assert np.abs(gan.discriminator.layers[2].kernel.numpy()).max() <= 0.005


def test_maxout_takes_the_max_of_each_group_of_consecutive_pieces():
    gan_2014.load_tensorflow()
    x = np.array([[1, 5, 2, 0, 9, 3, -1, -2, -3, -4]], np.float32)
    assert gan_2014.Maxout(5)(x).numpy().tolist() == [[9, 3]]  # groups [1 5 2 0 9], [3 -1 -2 -3 -4]


def test_generator_output_bias_starts_at_the_pixel_marginals(paper):
    *_, gan, means = paper
    bias = gan.generator.layers[2].bias.numpy()
    p = np.clip(means[2:], 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(bias[2:], np.log(p / (1 - p)), rtol=1e-5, atol=1e-5)
    # pylearn2 clips the marginals to [1e-7, 1 - 1e-7] before the logit
    np.testing.assert_allclose(bias[:2], [np.log(1e-7 / (1 - 1e-7)), np.log((1 - 1e-7) / 1e-7)], rtol=1e-5)


def test_schedule_follows_the_yaml():
    gan_2014.load_tensorflow()  # on its own in a worker, nothing else has loaded it yet
    lr, m = gan_2014.paper_schedule(0, 0)
    assert float(lr) == pytest.approx(0.1) and float(m) == pytest.approx(0.5)
    lr, m = gan_2014.paper_schedule(100000, 1)  # one pass done: MomentumAdjustor's count is 2
    assert float(lr) == pytest.approx(0.1 / 1.000004 ** 100000, rel=1e-6)
    assert float(m) == pytest.approx(0.5 + 0.2 / 249)
    lr, m = gan_2014.paper_schedule(10 ** 8, 400)
    assert float(lr) == pytest.approx(1e-6) and float(m) == pytest.approx(0.7)


def test_one_paper_iteration_updates_both_networks_together(paper):
    _, _, x, gan, _ = paper
    x_train = gan_2014.tf.convert_to_tensor(gan_2014.to_model_range(x, "paper"))
    assert 0 <= float(x_train.numpy().min()) and float(x_train.numpy().max()) <= 1  # [0, 1] data
    g0 = [v.numpy().copy() for v in gan.generator.trainable_variables]
    d0 = [v.numpy().copy() for v in gan.discriminator.trainable_variables]
    (lr_, ar), (lf, af), lg = gan.train_iteration(x_train, 100)
    assert all(math.isfinite(v) for v in (lr_, ar, lf, af, lg))
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(g0, gan.generator.trainable_variables))
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(d0, gan.discriminator.trainable_variables))
    assert int(gan.updates.numpy()) == 1
    # plain SGD's first step (zero velocity): each change is -0.1 x gradient; biases
    # of the output layer move, by far less than a unit
    assert 0 < np.abs(gan.generator.layers[2].bias.numpy() - g0[5]).max() < 0.5


def test_paper_run_trains_samples_evaluates_and_resumes_identically(paper, capsys):
    folder, data, *_ = paper
    common = ["--arch", "paper", "--data", data, "--seed", "3", "--sample-interval", "2"]
    out = lambda name: ["--images", str(folder / name / "images"), "--run-dir", str(folder / name / "run")]
    gan_2014.main(common + ["--epochs", "4"] + out("whole"))
    gan_2014.main(common + ["--epochs", "2"] + out("split"))
    gan_2014.main(common + ["--epochs", "4", "--resume"] + out("split"))
    history = lambda name: (folder / name / "run" / "history.csv").read_text().splitlines()
    strip = lambda lines: [l.rsplit(",", 1)[0] for l in lines]  # all but the seconds column
    assert strip(history("whole")) == strip(history("split")) and len(history("whole")) == 5
    run = str(folder / "whole" / "run")
    gan_2014.main(["sample", "--arch", "paper", "--weights", run, "--n", "4", "--out", str(folder / "s.npy"), "--seed", "1"])
    s = np.load(folder / "s.npy")
    assert s.shape == (4, 28, 28) and 0 <= s.min() and s.max() <= 1
    gan_2014.main(["evaluate", "--arch", "paper", "--weights", run, "--data", data, "--samples", "60",
                   "--cache", str(folder / "cache")])
    assert "generator (60 samples)" in capsys.readouterr().out


def test_checkpoint_or_weights_of_one_arch_are_refused_by_the_other(paper, capsys):
    folder, data, *_ = paper
    seed_run = folder / "seed_run"
    gan_2014.main(["--data", data, "--epochs", "2", "--batch-size", "16", "--seed", "1",
                   "--images", str(seed_run / "images"), "--run-dir", str(seed_run / "run")])
    capsys.readouterr()
    for argv, words in [
        (["--arch", "paper", "--data", data, "--epochs", "4", "--resume", "--images", str(seed_run / "images"),
          "--run-dir", str(seed_run / "run")], "checkpoint is for arch seed with latent size 100, not arch paper"),
        (["sample", "--arch", "paper", "--weights", str(seed_run / "run")], "do not fit the paper generator"),
    ]:
        before = (seed_run / "run" / "checkpoint.npz").read_bytes()
        with pytest.raises(SystemExit) as exit_info:
            gan_2014.main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and words in err[0], err
        assert (seed_run / "run" / "checkpoint.npz").read_bytes() == before
