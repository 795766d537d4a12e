#!/usr/bin/env python3
"""Generative Adversarial Nets (Goodfellow et al., 2014) on MNIST, in Keras 3.

A faithful port of the Keras-GAN style `GAN_2014.py` (the seed) that really
trains on today's TensorFlow/Keras 3: the same MLP generator and discriminator,
the same three `train_on_batch` steps per iteration, the same defaults.

    python gan_2014.py                       # train with the seed's defaults
    python gan_2014.py --data mnist.npz      # offline: a local copy of Keras's mnist.npz
    python gan_2014.py --resume              # continue the run in run/
    python gan_2014.py sample --weights run  # new digits from the trained generator
    python gan_2014.py evaluate --weights run --data mnist.npz   # the paper's Table 1 yardstick
    python gan_2014.py --help                # every option (also: sample --help, evaluate --help)
"""
import argparse
import csv
import json
import math
import os
import signal
import sys
import tempfile
import time
import zipfile

import numpy as np
import matplotlib

matplotlib.use("Agg")  # files only, never a window: runs the same on a headless server
import matplotlib.pyplot as plt
from PIL import Image

tf = keras = layers = None  # loaded by load_tensorflow(), once the command line checks out


def load_tensorflow():
    """Import TensorFlow and Keras. It takes seconds and prints CUDA notices that
    no setting silences, so bad input is refused before this, in one clean line."""
    global tf, keras, layers
    if tf is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the rest of its chatter
        import tensorflow
        import keras as keras_module
        tf, keras, layers = tensorflow, keras_module, keras_module.layers
        define_maxout()
    return tf


Maxout = None  # a Keras layer, defined once Keras is loaded


def define_maxout():
    global Maxout

    class MaxoutLayer(keras.layers.Layer):
        """Maxout (Goodfellow et al. 2013), as pylearn2's: the max over each group of
        `pieces` consecutive inputs, so 1200 inputs in 5 pieces give 240 units."""

        def __init__(self, pieces, **kwargs):
            super().__init__(**kwargs)
            self.pieces = pieces

        def call(self, x):
            units = x.shape[-1] // self.pieces
            return keras.ops.max(keras.ops.reshape(x, (-1, units, self.pieces)), axis=-1)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] // self.pieces)

        def get_config(self):
            return {**super().get_config(), "pieces": self.pieces}

    Maxout = MaxoutLayer

# -----------------------------------------------------------------------------
# Defaults: the seed's, each overridable from the command line (--help).
EPOCHS = 30000            # the seed's word for minibatch *iterations*, not passes over the data
BATCH_SIZE = 32
SAMPLE_INTERVAL = 200     # a 5x5 grid every this many iterations
LATENT_DIM = 100
LEARNING_RATE = 0.0002    # Adam(0.0002, 0.5), as in the seed (and DCGAN)
BETA_1 = 0.5
IMAGES = "images"         # the sample grids
RUN_DIR = "run"           # history, plots, checkpoint, final weights
CHECKPOINT_INTERVAL = 1000
ARCH = "seed"             # or "paper": the authors' released MNIST model (see README)
PAPER_BATCH_SIZE = 100    # the authors' mnist.yaml
LOG_LINE = "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"  # the seed's line, verbatim
# -----------------------------------------------------------------------------

CHECKPOINT = "checkpoint.npz"
HISTORY = "history.csv"
HISTORY_FIELDS = ["iteration", "d_loss_real", "d_loss_fake", "d_loss", "d_acc", "g_loss", "seconds"]
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit status 2, no traceback."""


class Stopped(Exception):
    """Training ended early; `code` is the exit status, `str()` the one-line reason."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


# -----------------------------------------------------------------------------
# Data


def load_mnist(path=None):
    """MNIST as `keras.datasets.mnist.load_data()` returns it: uint8 28x28 digits.

    With `path`, read a local .npz in the layout of Keras's own mnist.npz
    (x_train, y_train, x_test, y_test) and check it, so that a wrong file fails
    here with a clear message rather than deep inside a training step.
    """
    if path is None:
        load_tensorflow()
        try:
            return keras.datasets.mnist.load_data()
        except Exception as e:  # get_file wraps every network failure in a bare Exception
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"could not download MNIST ({reason}); "
                             "pass --data FILE with a local copy of Keras's mnist.npz") from None
    if not os.path.exists(path):
        raise UsageError(f"--data {path}: no such file")
    if os.path.isdir(path):
        raise UsageError(f"--data {path}: is a folder; give the .npz file itself")
    not_npz = UsageError(f"--data {path}: not a readable .npz archive "
                         "(expected Keras's mnist.npz layout)")
    try:
        f = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise not_npz from None
    if not isinstance(f, np.lib.npyio.NpzFile):  # a bare .npy array
        raise not_npz
    with f:
        missing = [k for k in MNIST_KEYS if k not in f.files]
        if missing:
            raise UsageError(f"--data {path}: missing key(s) {', '.join(missing)}; "
                             f"an MNIST .npz holds {', '.join(MNIST_KEYS)}")
        try:
            arrays = {k: f[k] for k in MNIST_KEYS}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile):
            raise not_npz from None
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or len(x) == 0:
            raise UsageError(f"--data {path}: x_{split} is {x.dtype} of shape {x.shape}; "
                             "expected uint8 of shape (N, 28, 28) with N > 0")
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise UsageError(f"--data {path}: y_{split} is {y.dtype} of shape {y.shape}; "
                             f"expected integer labels of shape ({len(x)},)")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def to_tanh_range(x):
    """uint8 digits -> float32 in [-1, 1] with a channel axis, the generator's tanh range."""
    return (x.astype(np.float32) / 127.5 - 1.0)[..., None]


def to_model_range(x, arch):
    """The seed's tanh generator works in [-1, 1]; the paper's sigmoid one in [0, 1]."""
    return to_tanh_range(x) if arch == "seed" else (x.astype(np.float32) / 255.0)[..., None]


# -----------------------------------------------------------------------------
# Files written so that a crash or kill never leaves half a file under the final name


def atomic_write(path, write):
    """Call `write(tmp_path)`, then move the result over `path` in one step."""
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    if name.endswith(".weights.h5"):  # Keras checks the suffix of what it writes
        ext = ".weights.h5"
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}-", suffix=ext, dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's files are private; ours are ordinary files
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


GRID_SCALE = 3  # grid PNGs: each digit pixel as 3x3 screen pixels
GIF_SCALE = 2   # progress.gif: 2x2, to keep 150 frames to a few MB


def save_grid(images, path, scale=GRID_SCALE):
    """A 5x5 mosaic of [0, 1] grey digits, 2 px apart, scaled up for a screen."""
    n, h, w = images.shape[0], images.shape[1], images.shape[2]
    rows = cols = int(math.ceil(math.sqrt(n)))
    pad = 2
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h,
               pad + c * (w + pad): pad + c * (w + pad) + w] = images[i, :, :, 0]
    img = Image.fromarray(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), "L")
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def ensure_writable_dir(path, option):
    """Create `path` if needed and prove a file can be written there, before any work."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write there ({e.strerror or e}); "
                         f"choose another {option}") from None


# -----------------------------------------------------------------------------
# The model


def paper_schedule(update, epoch):
    """mnist.yaml's schedule for update `update` (0-based) in pass `epoch` (0-based):
    the learning rate 0.1 divided by 1.000004 per update, down to 1e-6
    (ExponentialDecay); momentum 0.5 rising linearly to 0.7 from epoch 1 to 250
    (MomentumAdjustor, start 1, saturate 250, counting from 1 in the first pass)."""
    lr = tf.maximum(0.1 * tf.exp(-tf.cast(update, tf.float64) * np.log(1.000004)), 1e-6)
    momentum = 0.5 + 0.2 * tf.minimum(tf.cast(epoch, tf.float64) / 249.0, 1.0)
    return tf.cast(lr, tf.float32), tf.cast(momentum, tf.float32)


class GAN:
    """The seed's GAN: an MLP generator, an MLP discriminator, and a combined
    model noise -> generator -> frozen discriminator that trains the generator.
    With arch="paper", the authors' released MNIST model and its one-step update."""

    def __init__(self, latent_dim=LATENT_DIM, seed=None, jit_compile=True, arch=ARCH, pixel_means=None):
        load_tensorflow()
        self.latent_dim = latent_dim
        self.img_shape = (28, 28, 1)
        self.arch = arch
        if arch == "paper":
            self._init_paper(seed, jit_compile, pixel_means)
            return

        self.discriminator = self.build_discriminator()
        # Each model gets its own Adam: a Keras 3 optimizer is bound to the
        # variables it first updates, so one shared instance fails ("Unknown
        # variable") as soon as the second model trains.
        self.discriminator.compile(loss="binary_crossentropy",
                                   optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
                                   metrics=["accuracy"], jit_compile=jit_compile)

        self.generator = self.build_generator()

        # The combined model trains only the generator. Keras 3 reads `trainable`
        # when a train function is first traced, not at compile() as Keras 2 did,
        # so the seed's one-off `trainable = False` would freeze the discriminator's
        # own steps too; `train_iteration` sets the flag before every step instead.
        z = keras.Input(shape=(latent_dim,))
        self.combined = keras.Model(z, self.discriminator(self.generator(z)), name="combined")
        self.combined.compile(loss="binary_crossentropy",
                              optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
                              jit_compile=jit_compile)

        # Build both optimizers now, so a checkpoint can restore their state
        # before the first step.
        self.discriminator.trainable = True
        self.discriminator.optimizer.build(self.discriminator.trainable_variables)
        self.combined.optimizer.build(self.generator.trainable_variables)
        self.discriminator.trainable = False

        # All per-iteration randomness (minibatch indices, noise) comes from this
        # one stateful generator, on the device, so it is checkpointed with the run.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._draw = tf.function(self._draw_batch, jit_compile=jit_compile)
        self._labels = {}

    def build_generator(self):
        """100 -> 256 -> 512 -> 1024 -> 784 (tanh), LeakyReLU 0.2 then BatchNorm 0.8."""
        if self.arch == "paper":
            return self.build_paper_generator()
        return keras.Sequential([
            keras.Input(shape=(self.latent_dim,)),
            layers.Dense(256), layers.LeakyReLU(0.2), layers.BatchNormalization(momentum=0.8),
            layers.Dense(512), layers.LeakyReLU(0.2), layers.BatchNormalization(momentum=0.8),
            layers.Dense(1024), layers.LeakyReLU(0.2), layers.BatchNormalization(momentum=0.8),
            layers.Dense(int(np.prod(self.img_shape)), activation="tanh"),
            layers.Reshape(self.img_shape),
        ], name="generator")

    def build_discriminator(self):
        """784 -> 512 -> 256 -> 1 (sigmoid): the probability that an image is real."""
        if self.arch == "paper":
            return self.build_paper_discriminator()
        return keras.Sequential([
            keras.Input(shape=self.img_shape),
            layers.Flatten(),
            layers.Dense(512), layers.LeakyReLU(0.2),
            layers.Dense(256), layers.LeakyReLU(0.2),
            layers.Dense(1, activation="sigmoid"),
        ], name="discriminator")

    # --- --arch paper: the authors' released MNIST model (goodfeli/adversarial, mnist.yaml) ---

    def build_paper_generator(self, output_bias=None):
        """100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, weights uniform in +-0.05."""
        init = lambda: keras.initializers.RandomUniform(-0.05, 0.05)
        bias = "zeros" if output_bias is None else keras.initializers.Constant(output_bias)
        return keras.Sequential([
            keras.Input(shape=(self.latent_dim,)),
            layers.Dense(1200, activation="relu", kernel_initializer=init()),
            layers.Dense(1200, activation="relu", kernel_initializer=init()),
            layers.Dense(784, activation="sigmoid", kernel_initializer=init(), bias_initializer=bias),
            layers.Reshape(self.img_shape),
        ], name="generator")

    def build_paper_discriminator(self):
        """Two maxout layers of 240 units x 5 pieces, sigmoid out, weights uniform in
        +-0.005; dropout keeps inputs with p 0.8 and hidden units with p 0.5, scaled
        by 1/p (the yaml's input_scales 1.25 and 2), as Keras's Dropout does."""
        init = lambda: keras.initializers.RandomUniform(-0.005, 0.005)
        return keras.Sequential([
            keras.Input(shape=self.img_shape),
            layers.Flatten(),
            layers.Dropout(0.2), layers.Dense(240 * 5, kernel_initializer=init()), Maxout(5),
            layers.Dropout(0.5), layers.Dense(240 * 5, kernel_initializer=init()), Maxout(5),
            layers.Dropout(0.5), layers.Dense(1, activation="sigmoid", kernel_initializer=init()),
        ], name="discriminator")

    def _init_paper(self, seed, jit_compile, pixel_means):
        # The output bias starts at the logit of each pixel's mean, as pylearn2's
        # init_sigmoid_bias_from_marginals, so the first samples are the mean digit;
        # its clip to [1e-7, 1 - 1e-7] keeps never-lit pixels finite (logit -16.1).
        bias = None
        if pixel_means is not None:
            p = np.clip(np.asarray(pixel_means, np.float64).reshape(-1), 1e-7, 1 - 1e-7)
            bias = np.log(p / (1 - p)).astype(np.float32)
        self.generator = self.build_paper_generator(bias)
        self.discriminator = self.build_paper_discriminator()
        # SGD with momentum written out (pylearn2's rule: inc = m inc - lr grad;
        # param += inc) because the yaml changes the momentum as training goes.
        self.velocities = [keras.Variable(np.zeros(v.shape, np.float32), trainable=False)
                           for v in self.generator.trainable_variables
                           + self.discriminator.trainable_variables]
        self.updates = keras.Variable(0, dtype="int64", trainable=False)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.shuffle_seed = keras.Variable(
            int(seed if seed is not None else np.random.randint(2 ** 31 - 1)) % (2 ** 31 - 1),
            dtype="int32", trainable=False)
        self._paper_step = tf.function(self._paper_iteration, jit_compile=jit_compile)

    def _paper_iteration(self, x_train, batch_size):
        """One update of the authors' AdversaryCost2: one minibatch of real digits
        (shuffled passes over the data, as pylearn2's SGD), one of samples, and D
        and G stepped together from the same forward pass."""
        n = tf.shape(x_train)[0]
        per_epoch = tf.cast(n // batch_size, tf.int64)
        t = tf.convert_to_tensor(self.updates)
        epoch, pos = t // per_epoch, t % per_epoch
        order = tf.argsort(tf.random.stateless_uniform(
            [n], seed=tf.stack([tf.convert_to_tensor(self.shuffle_seed), tf.cast(epoch, tf.int32)])))
        # a gather, not order[a:b]: XLA would compile anew for every slice position
        real = tf.gather(x_train, tf.gather(order, pos * batch_size + tf.range(batch_size, dtype=tf.int64)))
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        ones, zeros = tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))
        bce = keras.losses.binary_crossentropy
        with tf.GradientTape(persistent=True) as tape:
            y_real = self.discriminator(real, training=True)
            y_fake = self.discriminator(self.generator(z, training=True), training=True)
            loss_real = tf.reduce_mean(bce(ones, y_real))
            loss_fake = tf.reduce_mean(bce(zeros, y_fake))
            d_obj = 0.5 * (loss_real + loss_fake)
            g_obj = tf.reduce_mean(bce(ones, y_fake))  # non-saturating, through the same dropout masks
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        grads = tape.gradient(g_obj, g_vars) + tape.gradient(d_obj, d_vars)
        lr, momentum = paper_schedule(t, epoch)
        for param, velocity, grad in zip(g_vars + d_vars, self.velocities, grads):
            velocity.assign(momentum * velocity - lr * grad)
            param.assign_add(velocity)
        self.updates.assign_add(1)
        acc_real = tf.reduce_mean(tf.cast(y_real > 0.5, tf.float32))
        acc_fake = tf.reduce_mean(tf.cast(y_fake < 0.5, tf.float32))
        return tf.stack([loss_real, acc_real, loss_fake, acc_fake, g_obj])

    def _draw_batch(self, x_train, batch_size):
        """A minibatch of real digits (with replacement, as the seed's randint), the
        generator's fakes, and fresh noise for the generator's step: one compiled call."""
        idx = keras.random.randint((batch_size,), 0, tf.shape(x_train)[0], seed=self.seed_generator)
        noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        # training=False is what the seed's generator.predict() did: BatchNorm
        # uses its moving statistics for the discriminator's fake batch.
        gen_imgs = self.generator(noise, training=False)
        noise_g = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        return tf.gather(x_train, idx), gen_imgs, noise_g

    def labels(self, batch_size):
        if batch_size not in self._labels:
            self._labels[batch_size] = (tf.ones((batch_size, 1)), tf.zeros((batch_size, 1)))
        return self._labels[batch_size]

    def train_iteration(self, x_train, batch_size):
        """One of the seed's "epochs": the discriminator on real digits (label 1),
        then on generated ones (label 0), then the generator through the combined
        model on fresh noise labelled 1 (the paper's non-saturating loss, sec. 3).
        Returns ([d_loss_real, d_acc_real], [d_loss_fake, d_acc_fake], g_loss)."""
        if self.arch == "paper":  # the authors' loop: one joint update, see _paper_iteration
            r_loss, r_acc, f_loss, f_acc, g_loss = (float(v) for v in self._paper_step(x_train, batch_size))
            return [r_loss, r_acc], [f_loss, f_acc], g_loss
        imgs, gen_imgs, noise = self._draw(x_train, batch_size)
        valid, fake = self.labels(batch_size)
        self.discriminator.trainable = True
        d_loss_real = self.discriminator.train_on_batch(imgs, valid)
        d_loss_fake = self.discriminator.train_on_batch(gen_imgs, fake)
        self.discriminator.trainable = False
        g_loss = self.combined.train_on_batch(noise, valid)
        return d_loss_real, d_loss_fake, g_loss

    def sample_images(self, iteration, folder, noise):
        """Save images/<iteration>.png: a 5x5 grid of the generator's digits for the
        run's fixed noise, as pixels in [0, 1]."""
        gen_imgs = self.to_unit(self.generator(noise, training=False).numpy())
        save_grid(gen_imgs, os.path.join(folder, f"{iteration}.png"))

    def to_unit(self, images):
        """Generator output -> pixels in [0, 1]."""
        return 0.5 * images + 0.5 if self.arch == "seed" else images

    # --- checkpoints: everything a resumed run needs to continue the same run ---

    def state_variables(self):
        if self.arch == "paper":
            return (self.generator.variables + self.discriminator.variables + self.velocities
                    + [self.updates, self.shuffle_seed, self.seed_generator.state])
        return (self.generator.variables + self.discriminator.variables
                + self.discriminator.optimizer.variables + self.combined.optimizer.variables
                + [self.seed_generator.state])

    def save_checkpoint(self, path, iteration, elapsed, fixed_noise):
        arrays = {f"v{i}": v.numpy() for i, v in enumerate(self.state_variables())}
        meta = json.dumps({"arch": self.arch, "latent_dim": self.latent_dim,
                           "iteration": iteration, "elapsed": elapsed})
        # np.savez would append .npz to a name without it; atomic_write's temporary name has it.
        atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(meta),
                                                fixed_noise=fixed_noise, **arrays))

    def load_checkpoint(self, path):
        """Restore a checkpoint; returns (iteration, elapsed, fixed_noise)."""
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                arrays = {k: f[k] for k in f.files}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile):
            raise UsageError(f"{path}: truncated or corrupt checkpoint; "
                             "start a new run with --overwrite or another --run-dir") from None
        if meta.get("latent_dim") != self.latent_dim or meta.get("arch") != self.arch:
            raise UsageError(f"{path}: checkpoint is for arch {meta.get('arch')} with latent size "
                             f"{meta.get('latent_dim')}, not arch {self.arch} with {self.latent_dim}; "
                             "pass the --arch and --latent-dim it was trained with")
        variables = self.state_variables()
        shapes = [arrays.get(f"v{i}", np.empty(0)).shape for i in range(len(variables))]
        if shapes != [tuple(v.shape) for v in variables] or f"v{len(variables)}" in arrays:
            raise UsageError(f"{path}: checkpoint does not match this model's architecture; "
                             "pass the options it was trained with")
        for i, v in enumerate(variables):
            v.assign(arrays[f"v{i}"])
        return int(meta["iteration"]), float(meta["elapsed"]), arrays["fixed_noise"]

    def save_weights(self, folder):
        """The trained networks in Keras's own format, for `sample` and `evaluate`."""
        for model in (self.generator, self.discriminator):
            atomic_write(os.path.join(folder, f"{model.name}.weights.h5"), model.save_weights)

    # --- the training loop ---

    def train(self, x_train, epochs=EPOCHS, batch_size=BATCH_SIZE,
              sample_interval=SAMPLE_INTERVAL, images=IMAGES, run_dir=RUN_DIR,
              checkpoint_interval=CHECKPOINT_INTERVAL, log_every=None, resume=False,
              noise_seed=None, progress=None):
        """Train for `epochs` iterations (the seed's word) on float digits in the
        model's range (`to_model_range`).

        Grids go to `images`; history.csv, losses.png, the checkpoint and the
        final weights to `run_dir`. With `resume`, continue from the checkpoint
        in `run_dir`. Raises Stopped on a signal or a non-finite loss."""
        x_train = tf.convert_to_tensor(x_train, tf.float32)  # once: on the device for the run
        checkpoint = os.path.join(run_dir, CHECKPOINT)
        history_path = os.path.join(run_dir, HISTORY)
        if resume:
            start, elapsed, fixed_noise = self.load_checkpoint(checkpoint)
            if start >= epochs:
                raise UsageError(f"{checkpoint} is at iteration {start}, which already reaches "
                                 f"--epochs {epochs}; raise --epochs to train further")
            history = read_history(history_path, upto=start)
        else:
            start, elapsed, history = 0, 0.0, []
            # One fixed batch of 25 latent points for every grid of the run, so the
            # grids show the same points evolving rather than new random digits.
            fixed_noise = np.random.default_rng(noise_seed).normal(
                0, 1, (25, self.latent_dim)).astype(np.float32)
            self.sample_images(0, images, fixed_noise)  # the untrained generator
        write_history(history_path, history)  # drops rows a killed run wrote past its checkpoint
        log_every = log_every or sample_interval
        if progress is None:
            progress = sys.stdout.isatty()
        bar = keras.utils.Progbar(epochs, unit_name="iteration") if progress else None
        if bar is not None and start:
            bar.update(start)

        stop = {}
        def request_stop(signum, frame):  # finish the iteration, then checkpoint and leave
            if stop:  # asked twice: leave now; the last checkpoint is whole either way
                raise KeyboardInterrupt
            stop["signal"] = signum
        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        saved_at = start
        t0 = time.perf_counter() - elapsed
        try:
            with open(history_path, "a", newline="") as history_file:
                writer = csv.writer(history_file)
                for it in range(start + 1, epochs + 1):
                    d_real, d_fake, g_loss = self.train_iteration(x_train, batch_size)
                    d_loss = 0.5 * np.add(d_real, d_fake)
                    row = [it, d_real[0], d_fake[0], d_loss[0], d_loss[1], g_loss,
                           round(time.perf_counter() - t0, 3)]
                    if not all(math.isfinite(v) for v in row):
                        history_file.flush()
                        raise Stopped(f"training diverged at iteration {it} (D loss {d_loss[0]}, "
                                      f"G loss {g_loss}); the last good checkpoint, iteration "
                                      f"{saved_at}, is in {checkpoint}", 1)
                    writer.writerow(row)
                    history.append(row)
                    if bar is not None:
                        bar.update(it, [("D loss", d_loss[0]), ("D acc", d_loss[1]), ("G loss", g_loss)])
                    elif it % log_every == 0 or it == epochs:
                        print(LOG_LINE % (it, d_loss[0], 100 * d_loss[1], g_loss), flush=True)
                    if it % sample_interval == 0 or it == epochs:
                        self.sample_images(it, images, fixed_noise)
                        history_file.flush()
                        plot_history(history, os.path.join(run_dir, "losses.png"))
                    if it % checkpoint_interval == 0 or it == epochs or stop:
                        history_file.flush()
                        self.save_checkpoint(checkpoint, it, time.perf_counter() - t0, fixed_noise)
                        saved_at = it
                    if stop:
                        name = signal.Signals(stop["signal"]).name
                        raise Stopped(f"stopped by {name} after iteration {it}; checkpoint saved in "
                                      f"{checkpoint}; continue with the same options plus --resume",
                                      128 + stop["signal"])
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        self.save_weights(run_dir)
        make_gif(images, epochs, os.path.join(images, "progress.gif"))
        return history


# -----------------------------------------------------------------------------
# History, plot and animation


def read_history(path, upto):
    """Rows of history.csv up to iteration `upto` (a killed run may have written more)."""
    rows = []
    if os.path.exists(path):
        with open(path, newline="") as f:
            for rec in csv.DictReader(f):
                try:
                    row = [int(rec["iteration"])] + [float(rec[k]) for k in HISTORY_FIELDS[1:]]
                except (TypeError, ValueError, KeyError):
                    continue  # a line cut short by a kill
                if row[0] <= upto:
                    rows.append(row)
    return rows


def write_history(path, rows):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HISTORY_FIELDS)
            writer.writerows(rows)
    atomic_write(path, write)


def plot_history(history, path):
    """Losses and discriminator accuracy against iterations, smoothed for reading."""
    h = np.asarray(history, dtype=np.float64)
    it = h[:, 0]
    window = max(1, len(h) // 200)
    smooth = lambda v: np.convolve(v, np.ones(window) / window, mode="valid")
    x = it[window - 1:]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ax1.plot(x, smooth(h[:, 3]), label="D loss (mean of real and fake)")
    ax1.plot(x, smooth(h[:, 5]), label="G loss")
    ax1.axhline(math.log(4) / 2, color="grey", lw=0.8, ls="--", label="D loss at equilibrium (log 2)")
    ax1.set_ylabel("binary cross-entropy")
    ax1.legend(loc="upper right", fontsize="small")
    ax2.plot(x, 100 * smooth(h[:, 4]), color="tab:green")
    ax2.axhline(50, color="grey", lw=0.8, ls="--")
    ax2.set_ylim(0, 100)
    ax2.set_ylabel("D accuracy (%)")
    ax2.set_xlabel("iteration" + (f" (moving mean over {window})" if window > 1 else ""))
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def make_gif(folder, last, path):
    """progress.gif: every grid of the run, in order, the last one held longer."""
    names = sorted((int(n[:-4]) for n in os.listdir(folder) if n[:-4].isdigit() and n.endswith(".png")))
    def frame(n):
        with Image.open(os.path.join(folder, f"{n}.png")) as img:
            w, h = img.width // GRID_SCALE, img.height // GRID_SCALE
            return img.convert("L").resize((w, h), Image.NEAREST).resize((w * GIF_SCALE, h * GIF_SCALE),
                                                                       Image.NEAREST)
    frames = [frame(n) for n in names if n <= last]
    if not frames:
        return
    durations = [120] * (len(frames) - 1) + [2000]
    atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True,
                                                  append_images=frames[1:], duration=durations, loop=0))


# -----------------------------------------------------------------------------
# Evaluation: the paper's yardstick (Parzen windows) and what it could not show

PARZEN_SIGMAS = np.logspace(-1, 0, 10)  # the authors' grid (parzen_ll.py: --sigma_start -1 --sigma_end 0)


def parzen_log_likelihood(x, mu, sigmas, chunk=500):
    """log p(x) for each row of x under the mean of isotropic Gaussians of width
    sigma centred on the rows of mu, for each sigma: shape (len(sigmas), len(x)).

    As the authors' parzen_ll.py: log-mean-exp of -|x - mu|^2 / (2 sigma^2),
    minus d log(sigma sqrt(2 pi)). The distances come from one matrix product
    per chunk of x (memory stays at chunk x len(mu)); all in float64, since
    |x|^2 - 2 x.mu + |mu|^2 loses digits to cancellation in float32."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    mu = np.asarray(mu, np.float64).reshape(len(mu), -1)
    sigmas = np.atleast_1d(np.asarray(sigmas, np.float64))
    d = x.shape[1]
    mu_sq = np.einsum("ij,ij->i", mu, mu)
    out = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), chunk):
        xc = x[start:start + chunk]
        sq = np.einsum("ij,ij->i", xc, xc)[:, None] - 2.0 * (xc @ mu.T) + mu_sq[None, :]
        sq = np.maximum(sq, 0.0)
        for k, sigma in enumerate(sigmas):
            a = sq * (-0.5 / sigma ** 2)
            m = a.max(axis=1)
            out[k, start:start + chunk] = (m + np.log(np.mean(np.exp(a - m[:, None]), axis=1))
                                           - d * np.log(sigma * np.sqrt(2 * np.pi)))
    return out


def parzen_evaluate(samples, x_valid, x_test):
    """The authors' protocol: sigma by the mean log-likelihood of x_valid,
    then the test digits' mean log-likelihood and its standard error."""
    valid_ll = parzen_log_likelihood(x_valid, samples, PARZEN_SIGMAS).mean(axis=1)
    sigma = float(PARZEN_SIGMAS[int(np.argmax(valid_ll))])
    ll = parzen_log_likelihood(x_test, samples, sigma)[0]
    return float(ll.mean()), float(ll.std() / np.sqrt(len(ll))), sigma


def build_classifier():
    """A small convnet for MNIST: the judge of the samples, not part of the GAN."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.3),
        layers.Dense(128, activation="relu", name="features"),  # the Fréchet distance's features
        layers.Dense(10, activation="softmax"),
    ], name="mnist_classifier")


CLASSIFIER_EPOCHS = 8  # 98.8% test accuracy on mnist-24k.npz (98.4% after 4)


def load_or_train_classifier(x_train, y_train, x_test, y_test, cache_dir, epochs=CLASSIFIER_EPOCHS):
    """The classifier for this data: trained once, cached under a key made from
    the data and the recipe, so another file (or recipe) trains its own.
    Returns (model, test accuracy)."""
    import hashlib
    recipe = f"conv32-pool-conv64-pool-drop0.3-dense128-dense10 adam batch=128 epochs={epochs} seed=0".encode()
    key = hashlib.sha256(x_train.tobytes() + np.asarray(y_train, np.int64).tobytes() + recipe).hexdigest()[:16]
    path = os.path.join(cache_dir, f"classifier-{key}.keras")
    x01_test = (x_test.astype(np.float32) / 255.0)[..., None]
    if os.path.exists(path):
        try:
            model = keras.saving.load_model(path)
        except Exception:
            model = None  # a damaged cache entry is retrained, not trusted
        if model is not None:
            return model, float(np.mean(np.argmax(model.predict(x01_test, verbose=0), 1) == y_test))
    print(f"gan_2014: training the MNIST classifier once for this data ({epochs} epochs); "
          f"cached in {path}", flush=True)
    keras.utils.set_random_seed(0)
    model = build_classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit((x_train.astype(np.float32) / 255.0)[..., None], np.asarray(y_train, np.int64),
              batch_size=128, epochs=epochs, verbose=0)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        atomic_write(path, model.save)
    except OSError as e:
        print(f"gan_2014: could not cache the classifier in {cache_dir} ({e.strerror or e})", file=sys.stderr)
    return model, float(np.mean(np.argmax(model.predict(x01_test, verbose=0), 1) == y_test))


def frechet_distance(f1, f2):
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with the trace of the root
    from the eigenvalues of S1^(1/2) S2 S1^(1/2) (symmetric, so no scipy needed)."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def classifier_figures(judge, images01, test_features=None):
    """Class histogram, digits covered, KL to uniform, classifier score, and the
    Fréchet distance of the penultimate features to `test_features` (if given).
    `judge` maps digits to (penultimate features, class probabilities)."""
    feats, probs = judge.predict(images01[..., None], batch_size=500, verbose=0)
    probs = np.clip(probs.astype(np.float64), 1e-12, 1)
    hist = np.bincount(np.argmax(probs, 1), minlength=10) / len(probs)
    p_y = probs.mean(0)
    score = float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(p_y)), axis=1))))
    nz = hist > 0
    kl_uniform = float(np.sum(hist[nz] * np.log(hist[nz] * 10)))
    return dict(hist=hist, covered=int(np.sum(hist >= 0.01)), kl=kl_uniform, score=score,
                fd=None if test_features is None else frechet_distance(feats.astype(np.float64), test_features),
                features=feats)


def generator_weights_path(weights):
    path = os.path.join(weights, "generator.weights.h5") if os.path.isdir(weights) else weights
    if not os.path.isfile(path):
        raise UsageError(f"--weights {weights}: no generator weights at {path}; "
                         "pass a run folder or its generator.weights.h5")
    return path


def load_generator(weights, latent_dim, arch=ARCH):
    """A GAN whose generator holds the weights from `weights` (a run folder or a
    generator.weights.h5 file)."""
    path = generator_weights_path(weights)
    gan = GAN(latent_dim=latent_dim, jit_compile=False, arch=arch)
    try:
        gan.generator.load_weights(path)
    except (ValueError, OSError, KeyError, TypeError) as e:
        mismatch = "shape" in str(e) or "expected" in str(e).lower()
        raise UsageError(f"--weights {path}: " + (
            f"weights do not fit the {arch} generator with latent size {latent_dim}; "
            "pass the --arch and --latent-dim it was trained with" if mismatch else
            "not a Keras generator weights file")) from None
    return gan


def generate(gan, n, seed, batch=1000):
    """n samples in [0, 1] from the generator (inference-mode BatchNorm), as (n, 28, 28)."""
    z = np.random.default_rng(seed).normal(0, 1, (n, gan.latent_dim)).astype(np.float32)
    out = [gan.generator(z[i:i + batch], training=False).numpy() for i in range(0, n, batch)]
    return gan.to_unit(np.concatenate(out))[..., 0]


# -----------------------------------------------------------------------------
# Command line


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block: the message names the fix
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def train_parser():
    p = Parser(prog="gan_2014.py", description=(
        "Train the 2014 GAN on MNIST with the seed's defaults. An 'epoch' here is what "
        "the seed calls one: a single minibatch iteration (discriminator on a real batch, "
        "on a fake batch, then the generator), not a pass over the data."))
    p.add_argument("--epochs", type=positive_int, default=EPOCHS, help=(
        "minibatch iterations to train, the seed's 'epochs' "
        f"(default {EPOCHS}; 30000 x 32 digits is about 16 passes over 60,000)"))
    p.add_argument("--arch", choices=["seed", "paper"], default=ARCH, help=(
        "seed: the seed's Keras-GAN networks and loop (default); paper: the authors' released "
        "MNIST model (maxout discriminator, SGD with momentum, one joint update per iteration)"))
    p.add_argument("--batch-size", type=positive_int,
                   help=f"real and fake digits per step (default {BATCH_SIZE}; {PAPER_BATCH_SIZE} with --arch paper)")
    p.add_argument("--sample-interval", type=positive_int, default=SAMPLE_INTERVAL,
                   help=f"save a 5x5 grid every this many iterations, and after the last (default {SAMPLE_INTERVAL})")
    p.add_argument("--latent-dim", type=positive_int, default=LATENT_DIM,
                   help=f"size of the generator's noise input (default {LATENT_DIM})")
    p.add_argument("--images", default=IMAGES, metavar="DIR",
                   help=f"folder for the grids <iteration>.png and progress.gif (default {IMAGES}/)")
    p.add_argument("--run-dir", default=RUN_DIR, metavar="DIR", help=(
        f"folder for history.csv, losses.png, {CHECKPOINT} and the final *.weights.h5 "
        f"(default {RUN_DIR}/)"))
    p.add_argument("--data", metavar="FILE",
                   help="a local .npz in the layout of Keras's mnist.npz, instead of downloading MNIST")
    p.add_argument("--seed", type=int,
                   help="seed for weights, minibatches and noise: same seed, same losses on a CPU "
                        "(default: a random seed, printed at the start)")
    p.add_argument("--log-every", type=positive_int, metavar="N", help=(
        "print the seed's log line every N iterations, also on a terminal "
        "(default: a progress bar on a terminal, else a line every --sample-interval)"))
    p.add_argument("--checkpoint-interval", type=positive_int, default=CHECKPOINT_INTERVAL, metavar="N",
                   help=f"write {CHECKPOINT} every N iterations and at the end (default {CHECKPOINT_INTERVAL})")
    p.add_argument("--resume", action="store_true",
                   help="continue the run whose checkpoint is in --run-dir")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run even though --run-dir holds another run's checkpoint")
    return p


def train_main(argv):
    args = train_parser().parse_args(argv)
    if args.batch_size is None:
        args.batch_size = PAPER_BATCH_SIZE if args.arch == "paper" else BATCH_SIZE
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pass one")
    checkpoint = os.path.join(args.run_dir, CHECKPOINT)
    if args.resume and not os.path.isfile(checkpoint):
        raise UsageError(f"--resume: no checkpoint at {checkpoint}; "
                         "start a new run without --resume, or pass the run's --run-dir")
    if not args.resume and not args.overwrite and os.path.isfile(checkpoint):
        raise UsageError(f"{args.run_dir}/ already holds a run's checkpoint; pass --resume to "
                         "continue it, --overwrite to replace it, or another --run-dir")
    (x_train, _), _ = load_mnist(args.data)
    if args.batch_size > len(x_train):
        raise UsageError(f"--batch-size {args.batch_size} is larger than the {len(x_train)} "
                         "training digits; pass a smaller --batch-size")
    ensure_writable_dir(args.images, "--images")
    ensure_writable_dir(args.run_dir, "--run-dir")

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
    load_tensorflow()
    keras.utils.set_random_seed(seed)  # weights' initial values
    gan = GAN(latent_dim=args.latent_dim, seed=seed, arch=args.arch,
              pixel_means=x_train.reshape(len(x_train), -1).mean(0) / 255.0)
    source = args.data or "keras.datasets.mnist"
    print(f"gan_2014: arch {args.arch}, {len(x_train)} digits from {source}, seed {seed}, "
          f"{args.epochs} iterations of batch {args.batch_size}"
          + (f", resuming from {checkpoint}" if args.resume else ""), flush=True)
    t = time.perf_counter()
    gan.train(to_model_range(x_train, args.arch), epochs=args.epochs, batch_size=args.batch_size,
              sample_interval=args.sample_interval, images=args.images, run_dir=args.run_dir,
              checkpoint_interval=args.checkpoint_interval, log_every=args.log_every,
              resume=args.resume, noise_seed=seed,
              progress=sys.stdout.isatty() and args.log_every is None)
    print(f"gan_2014: done in {time.perf_counter() - t:.0f} s; grids in {args.images}/, "
          f"history, checkpoint and weights in {args.run_dir}/", flush=True)


def add_generator_options(p):
    """The options that find a trained generator and rebuild it: shared by sample and evaluate."""
    p.add_argument("--weights", required=True, metavar="PATH",
                   help="a run folder (its generator.weights.h5) or a generator.weights.h5 file")
    p.add_argument("--arch", choices=["seed", "paper"], default=ARCH,
                   help=f"the --arch the generator was trained with (default {ARCH})")
    p.add_argument("--latent-dim", type=positive_int, default=LATENT_DIM,
                   help=f"the latent size the generator was trained with (default {LATENT_DIM})")


def sample_main(argv):
    p = Parser(prog="gan_2014.py sample",
               description="New digits from a trained generator, as a grid or as an array file.")
    add_generator_options(p)
    p.add_argument("--n", type=positive_int, default=25, help="how many digits (default 25)")
    p.add_argument("--out", default="samples.png", metavar="FILE", help=(
        "FILE.png: a grid; FILE.npz or FILE.npy: the digits as float32 (n, 28, 28) in [0, 1] "
        "(default samples.png)"))
    p.add_argument("--seed", type=int, help="seed of the noise: same seed, same digits (default: random, printed)")
    args = p.parse_args(argv)
    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".png", ".npz", ".npy"):
        raise UsageError(f"--out {args.out}: unknown kind of file; end it in .png, .npz or .npy")
    folder = os.path.dirname(os.path.abspath(args.out))
    ensure_writable_dir(folder, "--out")
    gan = load_generator(args.weights, args.latent_dim, args.arch)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
    images = generate(gan, args.n, seed)
    if ext == ".png":
        save_grid(images[..., None], args.out)
    elif ext == ".npz":
        atomic_write(args.out, lambda tmp: np.savez(tmp, images=images))
    else:
        atomic_write(args.out, lambda tmp: np.save(tmp, images))
    print(f"gan_2014: {args.n} digits (seed {seed}) written to {args.out}")


def evaluate_main(argv):
    p = Parser(prog="gan_2014.py evaluate", description=(
        "Parzen-window log-likelihood of the test digits by the authors' protocol (Goodfellow "
        "et al. 2014, Table 1), and classifier-based quality and mode coverage, for a trained "
        "generator and, as the reference row, for real training digits."))
    add_generator_options(p)
    p.add_argument("--data", metavar="FILE", help="a local MNIST .npz instead of downloading (as for training)")
    p.add_argument("--samples", type=positive_int, default=10000,
                   help="generator samples for the Parzen windows (default 10000, as the authors)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples' noise (default 0)")
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "gan_2014"),
                   metavar="DIR", help="where the MNIST classifier is cached (default ~/.cache/gan_2014)")
    args = p.parse_args(argv)
    generator_weights_path(args.weights)  # refuse a wrong path before a download
    (x_train, y_train), (x_test, y_test) = load_mnist(args.data)
    gan = load_generator(args.weights, args.latent_dim, args.arch)
    t0 = time.perf_counter()
    to01 = lambda x: x.astype(np.float32) / 255.0
    n = len(x_train)
    if n >= 51000:  # the authors' held-out digits
        valid, which = slice(50000, 51000), "training digits 50,000-50,999 (the authors' choice)"
    else:
        valid = slice(max(0, n - 1000), n)
        which = (f"training digits {valid.start:,}-{n - 1:,} (the last {n - valid.start:,}: "
                 f"this data has {n:,} training digits, fewer than the 51,000 the authors' choice needs)")
    x_valid, x_test01 = to01(x_train[valid]), to01(x_test)
    classifier, accuracy = load_or_train_classifier(x_train, y_train, x_test, y_test, args.cache)
    judge = keras.Model(classifier.inputs, [classifier.get_layer("features").output, classifier.outputs[0]])
    test_figures = classifier_figures(judge, x_test01)
    test_features = test_figures["features"].astype(np.float64)

    rows = []
    for name, samples in [(f"generator ({args.samples:,} samples)", generate(gan, args.samples, args.seed)),
                          (f"real training digits (first {min(args.samples, n):,})", to01(x_train[:args.samples]))]:
        ll, se, sigma = parzen_evaluate(samples, x_valid, x_test01)
        figures = classifier_figures(judge, samples, test_features)
        rows.append((name, ll, se, sigma, figures))
    seconds = time.perf_counter() - t0

    print(f"Parzen window: the {len(x_test):,} test digits' mean log-likelihood ± standard error; "
          f"sigma chosen from numpy.logspace(-1, 0, 10) on {which}.")
    print(f"Classifier: a small convnet trained on x_train ({100 * accuracy:.2f}% test accuracy); "
          "digits covered = classes with at least 1% of the samples.")
    print()
    print(f"{'':38} {'Parzen LL ± SE':>16} {'sigma':>6} {'digits':>7} {'KL(hist‖U)':>11} "
          f"{'score':>6} {'Fréchet':>8}")
    for name, ll, se, sigma, f in rows:
        print(f"{name:38} {ll:9.1f} ± {se:4.1f} {sigma:6.3f} {f['covered']:4d}/10 {f['kl']:11.3f} "
              f"{f['score']:6.2f} {f['fd']:8.2f}")
    print(f"{'test digits (reference)':38} {'':>16} {'':>6} {test_figures['covered']:4d}/10 "
          f"{test_figures['kl']:11.3f} {test_figures['score']:6.2f} {'—':>8}")
    print()
    print("class histogram (% of samples):   " + " ".join(f"{d:>5}" for d in range(10)))
    for name, *_, f in rows:
        print(f"  {name[:31]:31}  " + " ".join(f"{100 * h:5.1f}" for h in f["hist"]))
    print(f"  {'test digits':31}  " + " ".join(f"{100 * h:5.1f}" for h in test_figures["hist"]))
    print(f"\nevaluate took {seconds:.0f} s")
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = {"train": train_main, "sample": sample_main, "evaluate": evaluate_main}
    command = argv.pop(0) if argv and argv[0] in commands else "train"
    try:
        commands[command](argv)
    except UsageError as e:
        print(f"gan_2014.py: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Stopped as e:
        print(f"gan_2014.py: {e}", file=sys.stderr)
        sys.exit(e.code)
    except KeyboardInterrupt:
        print("gan_2014.py: interrupted; files already written, the last checkpoint included, "
              "are whole", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
