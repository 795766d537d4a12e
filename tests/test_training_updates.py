"""On real iterations, each step moves exactly the network it should: the two
traps of Keras 3 (freeze-after-compile, one shared Adam) are what this guards."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from gan_2014_utils.data import load_data
from helpers import make_tiny_mnist


def changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """Run real iterations through GAN.train_iteration, recording both networks'
    weights around each of its three train_on_batch calls."""
    path = make_tiny_mnist(tmp_path_factory.mktemp("d") / "tiny.npz")
    (x, _), _ = load_data(path)
    # the literal form, whose three calls can be watched; test_iteration_forms.py proves the
    # default form makes the same updates. Which weights move does not depend on XLA.
    gan = gan_2014.GAN(seed=3, jit_compile=False, train_on_batch=True)
    records = []

    # Only what an optimizer moves: BatchNorm's moving statistics change on any
    # training-mode pass, so they would show a generator "moving" with no update.
    # (The discriminator is Dense layers only, all learned; its `trainable_weights`
    # would depend on the flag the loop toggles.)
    g_vars, d_vars = gan.generator.trainable_weights, gan.discriminator.weights
    assert len(g_vars) == 14 and len(d_vars) == 6  # 4 Dense + 3 BatchNorm (gamma, beta); 3 Dense
    snapshot = lambda variables: [v.numpy().copy() for v in variables]

    def spy(model, label):
        original = model.train_on_batch
        def wrapped(*args, **kwargs):
            g0, d0 = snapshot(g_vars), snapshot(d_vars)
            out = original(*args, **kwargs)
            records.append((label, changed(g0, snapshot(g_vars)), changed(d0, snapshot(d_vars))))
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


def test_the_articles_freeze_after_compile_would_not_train_the_discriminator(tiny_data):
    """The trap itself, so the fix is known to be needed: Keras 3 reads `trainable`
    when the train function is traced, so the article's order freezes D for good."""
    (x, _), _ = load_data(tiny_data)
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    gan.discriminator.trainable = False  # as the article's script leaves it, and never sets it back
    before = [v.numpy().copy() for v in gan.discriminator.weights]
    imgs = gan_2014.GAN.from_pixels(x[:16])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "The model does not have any trainable weights."
        gan.discriminator.train_on_batch(imgs, np.ones((16, 1)))
    assert not changed(before, [v.numpy() for v in gan.discriminator.weights])


def test_real_minibatches_are_drawn_with_replacement():
    """As the article's np.random.randint: a batch larger than the data must repeat
    digits, and successive batches are different draws."""
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    x = tf.convert_to_tensor(np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((1, 28, 28, 1), np.float32))
    batches = [gan._draw(x, 64)[0].numpy()[:, 0, 0, 0] for _ in range(2)]
    for batch in batches:
        assert len(batch) == 64 and set(batch.tolist()) <= set(range(10))  # 64 of 10: repeats
        assert len(set(batch.tolist())) > 1
    assert not np.array_equal(batches[0], batches[1])


def test_the_fake_minibatch_comes_from_the_generator_in_inference_mode():
    """The article's generator.predict(): BatchNorm on its moving statistics, not on
    the batch's own. Moving statistics far from any batch's make the two modes differ.
    (Without XLA, whose random numbers differ from eager ones for the same seed.)"""
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    for layer in gan.generator.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 3.0, np.float32))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.25, np.float32))
    x = tf.convert_to_tensor(np.zeros((10, 28, 28, 1), np.float32))
    state = gan.seed_generator.state.numpy().copy()
    _, fakes, _ = gan._draw(x, 16)
    gan.seed_generator.state.assign(state)  # the same draws again: first the indices, then the noise
    keras.random.randint((16,), 0, 10, seed=gan.seed_generator)
    z = gan.noise(16)
    np.testing.assert_allclose(fakes.numpy(), gan.generator(z, training=False).numpy(), atol=1e-5)
    assert np.abs(fakes.numpy() - gan.generator(z, training=True).numpy()).max() > 0.1
