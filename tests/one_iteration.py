"""One iteration of a model from a given state on a given minibatch, on the
backend KERAS_BACKEND names (run as a child by test_backends.py):

    python one_iteration.py ARCH FORM IN.npz OUT.npz

IN.npz holds the model's state_variables() (random states aside) and the
iteration's inputs: the real digits `x`, the fakes' noise `z_fake` and the
generator step's noise `z_gen` (the authors' model: its pass order comes from its
shuffle seed, its noise from `z_fake`). OUT.npz gets the state after it and the
losses. Dropout is off in the authors' discriminator here: its masks come from
each backend's own random generator; the layer itself is Keras's."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gan_2014_utils.run_folder import is_random_state  # noqa: E402


def build(arch, form):
    import gan_2014
    gan = gan_2014.ARCHS[arch](seed=3, jit_compile=os.environ.get("GAN_2014_XLA") == "1")
    gan.train_on_batch = form == "literal"
    for layer in gan.discriminator.layers:
        if hasattr(layer, "rate"):
            layer.rate = 0.0
    return gan


def state_of(gan):
    import keras
    return {k: keras.ops.convert_to_numpy(v) for k, v in gan.state_variables().items()}


def load(gan, arrays):
    for key, v in gan.state_variables().items():
        if not is_random_state(key):
            v.assign(arrays[key].astype(np.dtype(v.dtype)))


def inject(gan, z_fake, z_gen, x_real):
    """The iteration's draws replaced by the given arrays."""
    import keras
    ops = keras.ops
    draws = iter([])

    def noise(n):
        return ops.convert_to_tensor(next(draws))

    def draw_batch(x_train, batch_size):
        nonlocal draws
        draws = iter([z_fake, z_gen])
        return ops.convert_to_tensor(x_real), gan.generator(noise(len(z_fake)), training=False), noise(len(z_gen))

    def fixed_noise(n):
        return ops.convert_to_tensor(z_fake)

    if gan.arch == "paper":
        gan.noise = fixed_noise
    else:
        from gan_2014_utils import backend
        gan._draw_batch = draw_batch
        gan._draw = draw_batch
        gan._three_steps = backend.compiled(gan.three_steps, gan.all_variables(), os.environ.get("GAN_2014_XLA") == "1")


def main(arch, form, src, dst):
    import keras
    gan = build(arch, form)
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    load(gan, arrays)
    inject(gan, arrays["z_fake"], arrays["z_gen"], arrays["x"])
    x_train = keras.ops.convert_to_tensor(arrays["x_train"])
    real, fake, g = gan.train_iteration(x_train, len(arrays["z_fake"]))
    np.savez(dst, losses=np.array([*real, *fake, g], np.float32), **state_of(gan))


if __name__ == "__main__":
    main(*sys.argv[1:5])
