"""A few hundred iterations on real MNIST move the samples towards digits
(seed 0: mean pixel 0.50 -> 0.29, dark share 0 -> 0.34, D accuracy over the
last 100 iterations 0.86)."""
import numpy as np
import tensorflow as tf
import keras

import gan_2014
from gan_2014_utils.data import load_data


def test_samples_move_towards_real_digits_in_400_iterations(real_data):
    (x, _), _ = load_data(real_data)
    keras.utils.set_random_seed(0)
    gan = gan_2014.GAN(seed=0)
    z = np.random.default_rng(0).normal(size=(500, 100)).astype("float32")
    def stats():
        imgs = 0.5 * gan.generator(z, training=False).numpy() + 0.5
        return imgs.mean(), (imgs < 0.1).mean()  # real digits: about 0.13 and 0.83
    mean0, dark0 = stats()
    x_train = tf.convert_to_tensor(gan_2014.GAN.from_pixels(x))
    accuracy = [0.5 * (r[1] + f[1]) for r, f, _ in (gan.train_iteration(x_train, 32) for _ in range(400))]
    mean1, dark1 = stats()
    assert mean1 < mean0 - 0.15, (mean0, mean1)  # untrained: grey noise around 0.5
    assert dark1 > dark0 + 0.1, (dark0, dark1)   # a black background is forming
    assert np.mean(accuracy[-100:]) < 0.99       # and the generator fools D some of the time
