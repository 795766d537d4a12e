"""On real iterations, each step moves exactly the network it should: the two
traps of Keras 3 (freeze-after-compile, one shared Adam) are what this guards."""
import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from helpers import make_tiny_mnist


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """Run real iterations through GAN.train_iteration, recording both networks'
    weights around each of its three train_on_batch calls."""
    path = make_tiny_mnist(tmp_path_factory.mktemp("d") / "tiny.npz")
    (x, _), _ = gan_2014.load_mnist(path)
    gan = gan_2014.GAN(seed=3)
    records = []

    def spy(model, label):
        original = model.train_on_batch
        def wrapped(*args, **kwargs):
            g0, d0 = [v.numpy().copy() for v in gan.generator.weights], [v.numpy().copy() for v in gan.discriminator.weights]
            out = original(*args, **kwargs)
            g1, d1 = [v.numpy().copy() for v in gan.generator.weights], [v.numpy().copy() for v in gan.discriminator.weights]
            records.append((label, changed(g0, g1), changed(d0, d1)))
            return out
        model.train_on_batch = wrapped

    spy(gan.discriminator, "discriminator")
    spy(gan.combined, "combined")
    x_train = tf.convert_to_tensor(gan_2014.GAN.from_pixels(x))
    for _ in range(3):
        gan.train_iteration(x_train, 16)
    return records


def test_iteration_runs_discriminator_twice_then_combined(steps):
    assert [label for label, _, _ in steps] == ["discriminator", "discriminator", "combined"] * 3


def test_discriminator_weights_change_in_its_own_steps(steps):
    assert all(d_moved for label, _, d_moved in steps if label == "discriminator")


def test_discriminator_weights_do_not_change_in_the_combined_step(steps):
    assert not any(d_moved for label, _, d_moved in steps if label == "combined")


def test_generator_weights_do_not_change_in_the_discriminator_steps(steps):
    assert not any(g_moved for label, g_moved, _ in steps if label == "discriminator")


def test_generator_weights_change_in_the_combined_step(steps):
    assert all(g_moved for label, g_moved, _ in steps if label == "combined")


def test_seed_style_freeze_after_compile_would_not_train_the_discriminator(tiny_data):
    """The trap itself, so the fix is known to be needed: Keras 3 reads `trainable`
    when the train function is traced, so the seed's order freezes D for good."""
    (x, _), _ = gan_2014.load_mnist(tiny_data)
    gan = gan_2014.GAN(seed=0)
    gan.discriminator.trainable = False  # as the seed leaves it, and never sets it back
    before = [v.numpy().copy() for v in gan.discriminator.weights]
    imgs = gan_2014.GAN.from_pixels(x[:16])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "The model does not have any trainable weights."
        gan.discriminator.train_on_batch(imgs, np.ones((16, 1)))
    assert not changed(before, [v.numpy() for v in gan.discriminator.weights])
