"""--arch paper: the authors' released MNIST model (goodfeli/adversarial, the
final mnist.yaml), a subclass of Keras-GAN's GAN."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from gan_2014_utils import generators
from gan_2014_utils.data import load_data, monitor_digits
from helpers import make_tiny_mnist


@pytest.fixture
def paper(tmp_path):
    """A new, untrained model for each test (no test sees another's updates)."""
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    (x, _), _ = load_data(data)
    means = x.reshape(len(x), -1).mean(0) / 255.0
    means[:2] = 0.0, 1.0  # a never-lit pixel (MNIST's corners) and an always-lit one, for the clip
    gan = gan_2014.PaperGAN(seed=0, pixel_means=means)
    return tmp_path, data, x, gan, means


def test_paper_networks_have_the_yaml_layers_and_sizes(paper):
    *_, gan, _ = paper
    g_dense = [l for l in gan.generator.layers if isinstance(l, keras.layers.Dense)]
    assert [d.units for d in g_dense] == [1200, 1200, 784]
    assert [d.activation.__name__ for d in g_dense] == ["relu", "relu", "sigmoid"]
    assert gan.generator.count_params() == 2_503_984
    kinds = [type(l).__name__ for l in gan.discriminator.layers]
    maxout = ["Dense", "Reshape", "GlobalMaxPooling1D"]
    assert kinds == ["Flatten", "Dropout", *maxout, "Dropout", *maxout, "Dropout", "Dense"]
    drops = [l.rate for l in gan.discriminator.layers if isinstance(l, keras.layers.Dropout)]
    assert drops == pytest.approx([0.2, 0.5, 0.5])  # keep 0.8 on the input, 0.5 on hidden units
    assert gan.discriminator.count_params() == 784 * 1200 + 1200 + 240 * 1200 + 1200 + 240 + 1
    assert gan.discriminator.output_shape == (None, 1)
    assert np.abs(g_dense[0].kernel.numpy()).max() <= 0.05
    assert np.abs(gan.discriminator.layers[2].kernel.numpy()).max() <= 0.005


def test_paper_model_is_a_subclass_not_a_mode():
    assert issubclass(gan_2014.PaperGAN, gan_2014.GAN)
    assert gan_2014.ARCHS == {"keras-gan": gan_2014.GAN, "paper": gan_2014.PaperGAN}
    with open(gan_2014.__file__) as f:
        assert "arch ==" not in f.read()


def test_maxout_takes_the_max_of_each_group_of_consecutive_pieces():
    unit = keras.Sequential([keras.Input((10,)), *gan_2014.maxout(2, 5, lambda: keras.initializers.Identity())])
    x = np.array([[1, 5, 2, 0, 9, 3, -1, -2, -3, -4]], np.float32)
    assert unit(x).numpy().tolist() == [[9, 3]]  # groups [1 5 2 0 9], [3 -1 -2 -3 -4]


def test_generator_output_bias_starts_at_the_pixel_marginals(paper):
    *_, gan, means = paper
    bias = gan.generator.layers[2].bias.numpy()
    p = np.clip(means[2:], 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(bias[2:], np.log(p / (1 - p)), rtol=1e-5, atol=1e-5)
    # pylearn2 clips the marginals to [1e-7, 1 - 1e-7] before the logit
    np.testing.assert_allclose(bias[:2], [np.log(1e-7 / (1 - 1e-7)), np.log((1 - 1e-7) / 1e-7)], rtol=1e-5)


def test_noise_is_uniform_with_unit_variance_as_the_final_yaml(paper):
    *_, gan, _ = paper
    root3 = math.sqrt(3)
    for z in (gan.noise(20000).numpy(), gan.host_noise(np.random.default_rng(0), 20000)):
        assert z.shape == (20000, 100) and z.dtype == np.float32
        assert -root3 <= z.min() < -root3 + 0.01 and root3 - 0.01 < z.max() <= root3
        assert abs(z.mean()) < 0.01 and z.var() == pytest.approx(1.0, abs=0.01)
        # flat, not bell-shaped: each tenth of the range holds a tenth of the draws
        counts = np.histogram(z, bins=10, range=(-root3, root3))[0] / z.size
        assert np.abs(counts - 0.1).max() < 0.005
    keras_gan_z = gan_2014.GAN.host_noise(gan, np.random.default_rng(0), 20000)  # gan.py's: Gaussian
    assert np.abs(keras_gan_z).max() > 3.5


def test_paper_trains_on_digits_0_to_49999_when_the_data_has_them():
    assert gan_2014.PaperGAN.training_digits(60000)[0] == 50000
    assert "held out" in gan_2014.PaperGAN.training_digits(60000)[1]
    assert gan_2014.PaperGAN.training_digits(51000)[0] == 50000
    assert gan_2014.PaperGAN.training_digits(50999) == (
        50999, "all of them: fewer than the 51,000 the authors' split (train on 0-49,999) needs")
    assert "fewer than" in gan_2014.PaperGAN.training_digits(24345)[1]
    assert gan_2014.GAN.training_digits(60000) == (60000, "")  # Keras-GAN's model trains on everything


def test_held_out_estimate_uses_only_digits_the_paper_model_never_sees():
    x = np.arange(60000)[:, None, None].repeat(28, 1).repeat(28, 2)  # each digit holds its own index
    x_sigma, x_scored, words = monitor_digits(x, 50000)
    assert x_sigma.shape[0] == 1000 and x_scored.shape[0] == 2000
    assert x_sigma[:, 0, 0].min() * 255 == pytest.approx(50000) and x_scored[:, 0, 0].min() * 255 == pytest.approx(51000)
    assert "never trained on" in words
    x_sigma, x_scored, words = monitor_digits(x[:24345], 24345)
    assert "also trains on" in words and len(x_sigma) == 1000 and len(x_scored) == 2000


def test_schedule_follows_the_yaml(paper):
    *_, gan, _ = paper
    lr, m = gan.schedule(0, 0)
    assert float(lr) == pytest.approx(0.1) and float(m) == pytest.approx(0.5)
    lr, m = gan.schedule(100000, 1)  # one pass done: MomentumAdjustor's count is 2
    assert float(lr) == pytest.approx(0.1 / 1.000004 ** 100000, rel=1e-5)
    assert float(m) == pytest.approx(0.5 + 0.2 / 249)
    lr, m = gan.schedule(10 ** 8, 400)
    assert float(lr) == pytest.approx(1e-6) and float(m) == pytest.approx(0.7)


def test_one_paper_iteration_updates_both_networks_together(paper):
    _, _, x, _, means = paper
    gan = gan_2014.PaperGAN(seed=0, pixel_means=means, jit_compile=False)  # which variables move, not XLA's arithmetic
    x_train = tf.convert_to_tensor(gan_2014.PaperGAN.from_pixels(x))
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


def test_each_pass_visits_every_training_digit_once_in_a_new_order(paper):
    _, _, x, _, _ = paper
    gan = gan_2014.PaperGAN(seed=9, jit_compile=False)  # the order, not the compiled arithmetic
    x_train = tf.convert_to_tensor(gan_2014.PaperGAN.from_pixels(x))  # 200 digits: 2 updates per pass
    orders = []
    for _ in range(3):
        gan.train_iteration(x_train, 100)
        orders.append(gan.order.numpy().copy())
        gan.train_iteration(x_train, 100)
    assert all(sorted(o.tolist()) == list(range(200)) for o in orders)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def test_paper_run_trains_samples_evaluates_and_resumes_identically(paper, capsys, classifier_cache):
    folder, data, *_ = paper
    common = ["--arch", "paper", "--data", data, "--seed", "3", "--sample-interval", "2"]
    out = lambda name: ["--images", str(folder / name / "images"), "--run-dir", str(folder / name / "run")]
    gan_2014.main(common + ["--epochs", "5"] + out("whole"))
    # 200 digits, batch 100: 2 updates a pass; stopping at 3 resumes in the middle of the second
    # pass, whose shuffled order must be drawn again exactly
    gan_2014.main(common + ["--epochs", "3"] + out("split"))
    gan_2014.main(["--epochs", "5", "--resume", "--run-dir", str(folder / "split" / "run")])  # nothing else
    history = lambda name: (folder / name / "run" / "history.csv").read_text().splitlines()
    strip = lambda lines: [l.split(",")[:6] for l in lines]  # all but the seconds column
    assert strip(history("whole")) == strip(history("split")) and len(history("whole")) == 6
    run = str(folder / "whole" / "run")
    gan_2014.main(["sample", "--weights", run, "--n", "4", "--out", str(folder / "s.npy"), "--seed", "1"])
    s = np.load(folder / "s.npy")
    assert s.shape == (4, 28, 28) and 0 <= s.min() and s.max() <= 1
    gan_2014.main(["evaluate", "--weights", run, "--data", data, "--samples", "60",
                   "--cache", classifier_cache])
    assert "generator (60 samples)" in capsys.readouterr().out


def test_weights_files_tell_their_architecture_and_latent_size(paper, tmp_path):
    *_, gan, _ = paper
    gan.generator.save_weights(tmp_path / "p.weights.h5")
    assert generators.describe_generator(str(tmp_path / "p.weights.h5"), gan_2014.ARCHS)[2:] == ("paper", 100, (28, 28, 1))  # no shape kept: MNIST
    seed64 = gan_2014.GAN(latent_dim=64, jit_compile=False)
    seed64.generator.save_weights(tmp_path / "s.weights.h5")
    assert generators.describe_generator(str(tmp_path / "s.weights.h5"), gan_2014.ARCHS)[2:] == ("keras-gan", 64, (28, 28, 1))
    loaded = generators.load_generator(generators.describe_generator(str(tmp_path / "s.weights.h5"), gan_2014.ARCHS), gan_2014.ARCHS)
    assert type(loaded) is gan_2014.GAN and loaded.latent_dim == 64
    for a, b in zip(loaded.generator.weights, seed64.generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_resumed_run_refuses_another_architecture(paper, capsys, no_xla):
    folder, data, *_ = paper
    seed_run = folder / "seed_run"
    gan_2014.main(["--data", data, "--epochs", "2", "--batch-size", "16", "--seed", "1",
                   "--images", str(seed_run / "images"), "--run-dir", str(seed_run / "run")])
    capsys.readouterr()
    before = (seed_run / "run" / "checkpoint.npz").read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(["--arch", "paper", "--epochs", "4", "--resume", "--run-dir", str(seed_run / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "--arch paper conflicts with the run's keras-gan" in err[0], err
    assert (seed_run / "run" / "checkpoint.npz").read_bytes() == before


def test_the_command_line_trains_the_paper_model_on_digits_0_to_49999_only(full_size_data, tmp_path, monkeypatch,
                                                                         capsys, no_xla):  # which digits, not the arithmetic
    seen = []
    original = gan_2014.PaperGAN.train
    def spy(self, x_train, **kwargs):
        seen.append((np.asarray(x_train), self.generator.layers[2].bias.numpy().copy()))
        return original(self, x_train, **kwargs)
    monkeypatch.setattr(gan_2014.PaperGAN, "train", spy)
    gan_2014.main(["--arch", "paper", "--data", full_size_data, "--epochs", "1", "--seed", "0",
                   "--run-dir", str(tmp_path / "run"), "--images", str(tmp_path / "images")])
    assert ("trains on 50,000 of the 51,200 training digits" in capsys.readouterr().out)
    (x, _), _ = load_data(full_size_data)
    (x_train, bias), = seen
    np.testing.assert_array_equal(x_train, gan_2014.PaperGAN.from_pixels(x[:50000]))
    # and the output bias starts at the marginals of those digits only, not of the held-out ones
    p = np.clip(x[:50000].reshape(50000, -1).mean(0) / 255.0, 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(bias, np.log(p / (1 - p)), rtol=1e-5, atol=1e-5)


def test_new_data_of_another_size_is_what_the_update_reads(paper):
    """The compiled update reads the pass's order from a variable; data of another
    size makes a new one, and the update must read that one, not the old (after a
    few sizes, TensorFlow reuses one trace for any size: only a recompile helps)."""
    _, _, x, _, means = paper
    gan = gan_2014.PaperGAN(seed=0, pixel_means=means, jit_compile=False)  # tf.function alone: as compiled, faster
    digits = gan_2014.PaperGAN.from_pixels(x)  # 200
    for n in (100, 200, 300):
        data = tf.convert_to_tensor(np.concatenate([digits] * 2)[:n])
        gan.train_iteration(data, 100)
    # 400 digits whose last 100 are NaN: a real loss turns NaN once the update visits them
    larger = tf.convert_to_tensor(np.concatenate([digits, digits[:100], np.full((100, 28, 28, 1), np.nan, np.float32)]))
    real_losses = [gan.train_iteration(larger, 100)[0][0] for _ in range(5)]  # a whole pass among them
    assert any(math.isnan(v) for v in real_losses), real_losses  # (a NaN digit then spoils the weights)


def test_a_real_update_uses_the_momentum_of_its_pass(paper):
    """The yaml's ramp, inside a real update: the same update from the same state
    with every velocity 0 and then 1 differs by exactly the momentum of its pass."""
    _, _, x, _, means = paper
    gan = gan_2014.PaperGAN(seed=0, pixel_means=means, jit_compile=False)  # the update's math, without XLA's compile
    x_train = tf.convert_to_tensor(gan_2014.PaperGAN.from_pixels(x))  # 200 digits: 2 updates a pass
    gan.updates.assign(2 * 125)  # the first update of pass 125 (0-based)
    state = {k: v.numpy().copy() for k, v in gan.state_variables().items()}

    def velocities_after_an_update(start):
        for k, v in gan.state_variables().items():
            v.assign(state[k])
        for velocity in gan.velocities:
            velocity.assign(np.full(velocity.shape, start, np.float32))
        gan.train_iteration(x_train, 100)
        return [velocity.numpy() for velocity in gan.velocities]

    from_zero, from_one = velocities_after_an_update(0.0), velocities_after_an_update(1.0)
    momentum = 0.5 + 0.2 * 125 / 249  # MomentumAdjustor: 0.5 to 0.7 from pass 1 to 250
    for a, b in zip(from_zero, from_one):
        np.testing.assert_allclose(b - a, momentum, atol=1e-5)
        assert np.abs(a).max() > 0  # a real gradient step, not a no-op


def test_a_paper_run_with_another_batch_size_says_it_is_not_the_authors_training(paper, capsys, no_xla):
    folder, data, *_ = paper
    run = lambda name, *extra: gan_2014.main(["--arch", "paper", "--data", data, "--epochs", "1", "--seed", "0",
                                              "--run-dir", str(folder / name), "--images", str(folder / name / "i"),
                                              *extra])
    run("small", "--batch-size", "1")
    out = capsys.readouterr().out
    assert "note: the authors trained with batch 100" in out and "batch 1 is not their model's training" in out
    run("theirs")
    assert "note:" not in capsys.readouterr().out
