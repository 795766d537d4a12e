"""The benchmark's floor (one fused XLA step) is the same algorithm as the
project's loop: from equal states, one iteration of each leaves equal weights."""
import os
import sys

import numpy as np
import tensorflow as tf
import keras

import gan_2014
from gan_2014_utils.data import load_data

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import bench_loop  # noqa: E402


def test_fused_floor_step_leaves_the_same_weights_as_train_iteration(tiny_data):
    (x, _), _ = load_data(tiny_data)
    x_train = tf.convert_to_tensor(gan_2014.GAN.from_pixels(x))
    keras.utils.set_random_seed(11)
    ours = gan_2014.GAN(seed=11)
    keras.utils.set_random_seed(11)
    floor_gan = gan_2014.GAN(seed=11)
    state = lambda gan: [v.numpy() for v in gan.state_variables().values()]
    start = state(ours)
    assert all(np.array_equal(a, b) for a, b in zip(start, state(floor_gan)))  # equal start
    d_real, d_fake, g_loss = ours.train_iteration(x_train, 16)
    losses = bench_loop.floor_step(floor_gan)(x_train, 16)
    # Same minibatch and noise (same random stream), same updates: weights agree to
    # float32 rounding of differently fused programs. Adam's first step moves each
    # weight by about the learning rate (2e-4), so 1e-5 would catch a missed or extra step.
    after_ours, after_floor = state(ours), state(floor_gan)
    assert sum(not np.array_equal(a, b) for a, b in zip(after_ours, start)) >= 20  # it trained
    for a, b in zip(after_ours, after_floor):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([d_real[0], d_fake[0], g_loss], losses, rtol=1e-4)


def test_paper_floor_in_plain_tensorflow_leaves_the_same_weights_as_train_iteration(tiny_data):
    """The --arch paper row's floor (no Keras layers) is the same update: same
    minibatch, noise and dropout masks, same objectives, same momentum step."""
    (x, _), _ = load_data(tiny_data)
    x_train = tf.convert_to_tensor(gan_2014.PaperGAN.from_pixels(x))  # 200 digits: a new pass every 2 updates
    means = x.reshape(len(x), -1).mean(0) / 255.0
    keras.utils.set_random_seed(4)
    ours = gan_2014.PaperGAN(seed=4, pixel_means=means)
    keras.utils.set_random_seed(4)
    floor_gan = gan_2014.PaperGAN(seed=4, pixel_means=means)
    state = lambda gan: {k: v.numpy() for k, v in gan.state_variables().items()}
    start = state(ours)
    assert all(np.array_equal(a, state(floor_gan)[k]) for k, a in start.items())
    floor = bench_loop.paper_floor_step(floor_gan)
    for _ in range(2):  # one pass: the floor reads the order the script drew for it
        (lr_, _), (lf, _), lg = ours.train_iteration(x_train, 100)
        floor_gan.shuffle(len(x), 100)
        losses = floor(x_train, 100)
        np.testing.assert_allclose([lr_, lf, lg], losses, rtol=1e-5)
    after = state(ours)
    assert sum(not np.array_equal(a, start[k]) for k, a in after.items()) >= 20  # it trained
    for k, a in state(floor_gan).items():
        np.testing.assert_allclose(after[k], a, rtol=1e-5, atol=1e-6, err_msg=k)
