#!/usr/bin/env python3
"""Generative Adversarial Nets (Goodfellow et al., 2014) on MNIST, in Keras 3.

A faithful port of the article's `GAN_2014.py` (Keras-GAN's `gan/gan.py`, 2018)
that really trains on today's TensorFlow/Keras 3: the same MLP generator and
discriminator, the same three `train_on_batch` steps per iteration, the same
defaults. Beside it, `--arch paper`: the authors' own MNIST model
(goodfeli/adversarial, mnist.yaml), a subclass with its own networks and update.

    python gan_2014.py                        # train with gan.py's defaults
    python gan_2014.py --data mnist.npz       # offline: a local copy of Keras's mnist.npz
    python gan_2014.py --resume               # continue the run in run/ (its settings are in run/run.json)
    python gan_2014.py sample --weights run   # new digits from a run, finished or interrupted
    python gan_2014.py evaluate --weights run --data mnist.npz   # the paper's Table 1 yardstick
    python gan_2014.py --help                 # every option (also: sample --help, evaluate --help)

Reading order: settings; Keras-GAN's GAN (networks, one iteration, the training
loop); the authors' model; the run folder (every file a run writes); data;
evaluation; the command line and the process around it. docs/keras3.md maps
gan.py's lines to this file's.
"""
import _signal  # the C module: `import signal` alone takes a tenth of a second
import os
import sys

if __name__ == "__main__":  # before the slow imports: a closed standard stream (`>&-`) gets /dev/null
    for fd in (0, 1, 2):    # (the next file opened would take its number, and prints would land in it),
        try:                # and a signal leaves at once in one line (main() then takes over)
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)
    for s, name in ((_signal.SIGHUP, "SIGHUP"), (_signal.SIGINT, "SIGINT"), (_signal.SIGTERM, "SIGTERM")):
        _signal.signal(s, lambda n, frame, name=name: (os.write(2, (
            f"gan_2014.py: stopped by {name}; files already written are whole\n").encode()), os._exit(128 + n)))

import argparse
import signal
import collections
import contextlib
import csv
import fcntl
import hashlib
import importlib
import json
import math
import re
import stat
import tempfile
import time
import traceback
import uuid
import zipfile

import numpy as np


# -----------------------------------------------------------------------------
# Settings: gan.py's defaults, each overridable from the command line (--help).
EPOCHS = 30000            # gan.py's word for minibatch *iterations*, not passes over the data
BATCH_SIZE = 32
SAMPLE_INTERVAL = 200     # a 5x5 grid every this many iterations
LATENT_DIM = 100
LEARNING_RATE = 0.0002    # Adam(0.0002, 0.5), as in gan.py (and DCGAN)
BETA_1 = 0.5
IMAGES = "images"         # the sample grids
RUN_DIR = "run"           # settings, history, plot, checkpoint, weights
CHECKPOINT_INTERVAL = 1000
EVAL_EVERY = 0            # iterations between held-out Parzen estimates (0: none, as gan.py)
ARCH = "keras-gan"        # "keras-gan": gan.py's model (GAN); "paper": the authors' (PaperGAN below)
G_LOSS = "non-saturating" # G maximizes log D(G(z)) (paper sec. 3; gan.py's labels 1), or "minimax"
D_STEPS = 1               # Algorithm 1's k: discriminator updates per generator update (the paper used 1)
JIT_COMPILE = os.environ.get("GAN_2014_XLA", "1") != "0"  # XLA: ~10 s to compile, then ~2x faster steps;
                          # GAN_2014_XLA=0 skips it (short runs, the tests of folders and messages)
LOG_LINE = "%d [D loss: %f, acc.: %.2f%%] [G loss: %f]"  # gan.py's line, verbatim
# -----------------------------------------------------------------------------


# -----------------------------------------------------------------------------
# Keras-GAN's GAN (the article's GAN_2014.py, Keras-GAN's gan/gan.py)

G_LOSSES = ("non-saturating", "minimax")


def generator_objective(kind, d):
    """What G minimizes, per sample, given D(G(z)) (the paper's sec. 3).
    'minimax' is the value function's own term, log(1 - D(G(z))): it saturates
    when D rejects the samples confidently, early in learning. 'non-saturating'
    is -log D(G(z)), binary cross-entropy against label 1, gan.py's choice and
    the paper's advice: the same fixed point, much stronger gradients early.
    Both clip D as Keras's cross-entropy does."""
    d = keras.ops.clip(d, 1e-7, 1 - 1e-7)
    if kind == "minimax":
        return keras.ops.log(1 - d)
    return keras.losses.binary_crossentropy(keras.ops.ones_like(d), d)


class GAN:
    """Keras-GAN's GAN: an MLP generator, an MLP discriminator, and a combined
    model noise -> generator -> frozen discriminator that trains the generator."""

    batch_size = BATCH_SIZE
    first_layer = 256  # the generator's first Dense layer: a weights file's shape tells the model by it
    img_shape = (28, 28, 1)
    learning_rate = LEARNING_RATE
    separate_d_steps = True  # D and G are updated one after the other: --d-steps may repeat D's
    def __init__(self, latent_dim=LATENT_DIM, seed=None, jit_compile=True, pixel_means=None,
                 g_loss=G_LOSS, d_steps=D_STEPS):
        self.latent_dim = latent_dim
        self.seed = seed
        self.g_loss, self.d_steps = g_loss, d_steps

        self.discriminator = self.build_discriminator()
        # Each model gets its own Adam: a Keras 3 optimizer is bound to the
        # variables it first updates, so one shared instance fails ("Unknown
        # variable") as soon as the second model trains.
        self.discriminator.compile(loss="binary_crossentropy",
                                   optimizer=keras.optimizers.Adam(self.learning_rate, beta_1=BETA_1),
                                   metrics=["accuracy"], jit_compile=jit_compile)

        self.generator = self.build_generator()

        # The combined model trains only the generator. Keras 3 reads `trainable`
        # when a train function is first traced, not at compile() as Keras 2 did,
        # so gan.py's one-off `trainable = False` would freeze the discriminator's
        # own steps too; `train_iteration` sets the flag before every step instead.
        z = keras.Input(shape=(latent_dim,))
        self.combined = keras.Model(z, self.discriminator(self.generator(z)), name="combined")
        # Labels 1 with binary cross-entropy is -log D(G(z)), the non-saturating
        # loss; --g-loss minimax trains on the value function's own log(1 - D(G(z))).
        self.combined.compile(loss="binary_crossentropy" if g_loss == "non-saturating"
                              else lambda y, d: keras.ops.mean(generator_objective("minimax", d), axis=-1),
                              optimizer=keras.optimizers.Adam(self.learning_rate, beta_1=BETA_1),
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
        self._draw = tf.function(self._draw_batch, jit_compile=jit_compile, autograph=False)
        self._labels = {}

    def build_generator(self):
        """100 -> 256 -> 512 -> 1024 -> 784 (tanh), LeakyReLU 0.2 then BatchNorm 0.8."""
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
        return keras.Sequential([
            keras.Input(shape=self.img_shape),
            layers.Flatten(),
            layers.Dense(512), layers.LeakyReLU(0.2),
            layers.Dense(256), layers.LeakyReLU(0.2),
            layers.Dense(1, activation="sigmoid"),
        ], name="discriminator")

    # --- what the model's numbers mean ---

    def noise(self, n):
        """z ~ N(0, 1), as gan.py's np.random.normal, drawn on the device."""
        return keras.random.normal((n, self.latent_dim), seed=self.seed_generator)

    def host_noise(self, rng, n):
        """The same distribution from a NumPy generator: for grids and `sample`."""
        return rng.normal(0, 1, (n, self.latent_dim)).astype(np.float32)

    @staticmethod
    def from_pixels(x):
        """uint8 digits -> float32 in [-1, 1] with a channel axis, the generator's tanh range."""
        return (x.astype(np.float32) / 127.5 - 1.0)[..., None]

    @staticmethod
    def to_unit(images):
        """Generator output -> pixels in [0, 1]."""
        return 0.5 * images + 0.5

    @classmethod
    def training_digits(cls, n):
        """How many of n training digits it trains on, and what it holds out: gan.py uses all."""
        return n, ""

    # --- one iteration ---

    def _draw_batch(self, x_train, batch_size):
        """A minibatch of real digits (with replacement, as gan.py's randint), the
        generator's fakes, and fresh noise for the generator's step: one compiled call."""
        idx = keras.random.randint((batch_size,), 0, tf.shape(x_train)[0], seed=self.seed_generator)
        # training=False is what gan.py's generator.predict() did: BatchNorm
        # uses its moving statistics for the discriminator's fake batch.
        gen_imgs = self.generator(self.noise(batch_size), training=False)
        return tf.gather(x_train, idx), gen_imgs, self.noise(batch_size)

    def labels(self, batch_size):
        if batch_size not in self._labels:
            self._labels[batch_size] = (tf.ones((batch_size, 1)), tf.zeros((batch_size, 1)))
        return self._labels[batch_size]

    def train_iteration(self, x_train, batch_size):
        """One of gan.py's "epochs". Returns ([d_loss_real, d_acc_real],
        [d_loss_fake, d_acc_fake], g_loss) (D's: its last step's)."""
        valid, fake = self.labels(batch_size)

        # ---- (1) Update D: maximize log D(x) + log(1 - D(G(z))), k times (Algorithm 1) ----
        self.discriminator.trainable = True
        for _ in range(self.d_steps):  # each on fresh real and fake minibatches
            imgs, gen_imgs, noise = self._draw(x_train, batch_size)
            d_loss_real = self.discriminator.train_on_batch(imgs, valid)
            d_loss_fake = self.discriminator.train_on_batch(gen_imgs, fake)

        # ---- (2) Update G: maximize log D(G(z)) (the paper's non-saturating loss, sec. 3),
        #      or with --g-loss minimax minimize log(1 - D(G(z))) ----
        self.discriminator.trainable = False
        g_loss = self.combined.train_on_batch(noise, valid)
        return d_loss_real, d_loss_fake, g_loss

    # --- the training loop ---

    # --- the training loop ---

    def train(self, x_train, epochs=EPOCHS, batch_size=None, sample_interval=SAMPLE_INTERVAL, run=None):
        """gan.py's train: `epochs` iterations (gan.py's word) on digits already in
        the model's range (`from_pixels`), gan.py's log line, a grid every
        `sample_interval`. Everything the run writes (history.csv, grids,
        checkpoints, best/, the final weights) goes through `run`, a RunFolder
        (default: run/ and images/), which also continues the checkpoint it was
        given. Returns the history's rows. Raises Stopped on a signal (after a
        checkpoint) or on non-finite numbers."""
        run = run or RunFolder()
        batch_size = batch_size or self.batch_size
        x_train = tf.convert_to_tensor(x_train, tf.float32)  # once: on the device for the run
        with run.training(self, epochs) as (start, fixed_noise):
            for it in range(start + 1, epochs + 1):
                # ---- one of gan.py's "epochs": D on real, D on fake, G through the frozen D ----
                d_loss_real, d_loss_fake, g_loss = self.train_iteration(x_train, batch_size)
                d_loss = 0.5 * np.add(d_loss_real, d_loss_fake)

                # ---- gan.py's log line (a progress bar on a terminal); ours: history.csv,
                #      the held-out estimate, the collapse watch ----
                run.record(self, it, d_loss_real, d_loss_fake, d_loss, g_loss)
                if run.log_due(it, epochs, sample_interval):
                    print(LOG_LINE % (it, d_loss[0], 100 * d_loss[1], g_loss), flush=True)

                # ---- gan.py's grids: the same 25 noise vectors every time ----
                if it % sample_interval == 0 or it == epochs:
                    run.add_grid(it, self.sample_images(it, run.images, fixed_noise))

                # ---- ours: a checkpoint to resume from; a signal stops here, after one ----
                if run.checkpoint_due(it, epochs):
                    run.save_checkpoint(self, it, fixed_noise)
        run.finish(self, epochs, fixed_noise)  # the final weights, the GIF, the last checkpoint
        return run.history

    def sample_images(self, iteration, folder, noise):
        """Save <folder>/<iteration>.png, a 5x5 grid of the generator's digits for
        `noise` (the run's fixed 25 points), as pixels in [0, 1]; returns its path."""
        gen_imgs = self.to_unit(self.generator(noise, training=False).numpy())
        path = os.path.join(folder, f"{iteration}.png")
        save_grid(gen_imgs, path)
        return path

    # --- checkpoints: everything a resumed run needs to continue the same run ---

    def weight_variables(self):
        """Both networks' variables keyed by where they sit in their model (model,
        layer position and kind, variable), so the key is the same in every process."""
        state = {}
        for model in (self.generator, self.discriminator):
            for i, layer in enumerate(model.layers):
                for v in layer.variables:  # incl. BatchNorm's statistics and Dropout's seed
                    state[f"{model.name}/{i}-{type(layer).__name__}/{v.name}"] = v
        return state

    def state_variables(self):
        """Weights, both Adams' slots (keyed by the weight they belong to), the random stream."""
        weights = self.weight_variables()
        state = dict(weights)
        for name, opt in (("d_adam", self.discriminator.optimizer), ("g_adam", self.combined.optimizer)):
            slots = {v.name: v for v in opt.variables}
            state[f"{name}/iteration"] = opt.iterations
            for key, w in weights.items():
                for kind in ("momentum", "velocity"):
                    slot = slots.get(f"{w.path.replace('/', '_')}_{kind}")
                    if slot is not None:
                        state[f"{name}/{key}/{kind}"] = slot
        state["rng"] = self.seed_generator.state
        return state

    def save_checkpoint(self, path, iteration, elapsed, fixed_noise, best, saved_at=None, **record):
        """The model's state and `record` (what the run folder keeps with it:
        its run id and settings, the files it wrote) in one .npz."""
        arrays = {k: v.numpy() for k, v in self.state_variables().items()}
        # The losses are computed before an update; the weights are checked here,
        # so a checkpoint called good never holds an update that broke them.
        broken = next((k for k, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()), None)
        if broken is not None:
            raise Stopped(f"training diverged by iteration {iteration} ({broken} is not finite)",
                          iteration, iteration if saved_at is None else saved_at, 1)
        meta = json.dumps({"arch": ARCH_NAMES[type(self)], "latent_dim": self.latent_dim,
                           "iteration": iteration, "elapsed": elapsed,
                           "best": None if best is None else list(best), **record})
        atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(meta), fixed_noise=fixed_noise, **arrays),
                     needs=sum(a.nbytes for a in arrays.values()))

    def load_checkpoint(self, path):
        """Restore a checkpoint; returns (iteration, elapsed, fixed_noise, best, collapsed_since)."""
        meta, arrays = read_checkpoint(path)
        if meta["arch"] != ARCH_NAMES[type(self)] or meta["latent_dim"] != self.latent_dim:
            raise CheckpointError(f"it is for arch {meta['arch']} with latent size {meta['latent_dim']}, "
                                  f"not arch {ARCH_NAMES[type(self)]} with {self.latent_dim}")
        variables = self.state_variables()
        for key in sorted(set(variables) ^ (set(arrays) - {"fixed_noise"})):
            raise CheckpointError(f"array {key} is " + ("missing" if key in variables else "not this model's"))
        for key, v in variables.items():
            a = arrays[key]
            if a.shape != tuple(v.shape) or a.dtype != np.dtype(v.dtype):
                raise CheckpointError(f"array {key} is {a.dtype} {a.shape}, this model's is "
                                      f"{np.dtype(v.dtype)} {tuple(v.shape)}")
        noise = arrays.get("fixed_noise")
        if not isinstance(noise, np.ndarray) or noise.shape != (25, self.latent_dim) or noise.dtype != np.float32 \
                or not np.isfinite(noise).all():
            raise CheckpointError(f"fixed_noise is not 25 finite float32 latent points of size {self.latent_dim}")
        for key, v in variables.items():
            v.assign(arrays[key])
        best = None if meta["best"] is None else (int(meta["best"][0]), float(meta["best"][1]))
        return meta["iteration"], meta["elapsed"], noise, best, meta.get("collapsed_since")

    def save_weights(self, folder, models=None):
        """Networks in Keras's own .weights.h5 format, for `sample` and `evaluate`."""
        os.makedirs(folder, exist_ok=True)
        for model in models or (self.generator, self.discriminator):
            atomic_write(os.path.join(folder, f"{model.name}.weights.h5"), model.save_weights)


# -----------------------------------------------------------------------------
# The authors' model: goodfeli/adversarial, mnist.yaml (final version, commit f77a509)


def maxout(units, pieces, init):
    """Maxout (Goodfellow et al. 2013), as pylearn2's: a Dense layer of
    units x pieces, then the max of each group of `pieces` consecutive outputs."""
    return [layers.Dense(units * pieces, kernel_initializer=init()),
            layers.Reshape((units, pieces)),
            layers.GlobalMaxPooling1D(data_format="channels_first")]  # max over the last axis


class PaperGAN(GAN):
    """The authors' released MNIST model and its update (AdversaryCost2): a
    ReLU/sigmoid generator fed uniform noise, a maxout discriminator with dropout,
    and one simultaneous SGD-with-momentum step of both networks per iteration."""

    batch_size = 100
    first_layer = 1200
    separate_d_steps = False  # one joint update of both networks: --d-steps must stay 1
    learning_rate, decay, min_lr = 0.1, 1.000004, 1e-6   # ExponentialDecay
    momentum_start, momentum_end, saturate = 0.5, 0.7, 250   # MomentumAdjustor (epochs)
    train_on = 50000      # the yaml's dataset: training digits 0-49,999 (start: 0, stop: 50000)

    def __init__(self, latent_dim=LATENT_DIM, seed=None, jit_compile=True, pixel_means=None,
                 g_loss=G_LOSS, d_steps=D_STEPS):
        if d_steps != 1:
            raise ValueError("the authors' update has no separate discriminator steps")
        self.latent_dim = latent_dim
        self.seed = seed
        self.g_loss, self.d_steps = g_loss, d_steps
        # The output bias starts at the logit of each pixel's mean, as pylearn2's
        # init_sigmoid_bias_from_marginals, so the first samples are the mean digit;
        # its clip to [1e-7, 1 - 1e-7] keeps never-lit pixels finite (logit -16.1).
        self.output_bias = None
        if pixel_means is not None:
            p = np.clip(np.asarray(pixel_means, np.float64).reshape(-1), 1e-7, 1 - 1e-7)
            self.output_bias = np.log(p / (1 - p)).astype(np.float32)
        self.generator = self.build_generator()
        self.discriminator = self.build_discriminator()
        # SGD with momentum written out (pylearn2's rule: inc = m inc - lr grad;
        # param += inc) because the yaml changes the momentum as training goes.
        self.params = self.generator.trainable_variables + self.discriminator.trainable_variables
        self.velocities = [keras.Variable(np.zeros(v.shape, np.float32), trainable=False, name="velocity")
                           for v in self.params]
        self.updates = keras.Variable(0, dtype="int64", trainable=False, name="updates")
        self.seed_generator = keras.random.SeedGenerator(seed)
        # pylearn2's SGD visits the data in a new shuffled order each pass; the
        # order is drawn on the host once per pass, from (shuffle seed, pass).
        self.shuffle_seed = keras.Variable(
            int(seed if seed is not None else np.random.randint(2 ** 31 - 1)) % (2 ** 31 - 1),
            dtype="int64", trainable=False, name="shuffle_seed")
        self.order, self._order_of = None, None
        self._host_updates = self._next_shuffle = 0  # updates done, and where the next pass begins
        self._jit_compile = jit_compile

    def build_generator(self):
        """100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, weights uniform in +-0.05."""
        init = lambda: keras.initializers.RandomUniform(-0.05, 0.05)
        bias = "zeros" if self.output_bias is None else keras.initializers.Constant(self.output_bias)
        return keras.Sequential([
            keras.Input(shape=(self.latent_dim,)),
            layers.Dense(1200, activation="relu", kernel_initializer=init()),
            layers.Dense(1200, activation="relu", kernel_initializer=init()),
            layers.Dense(784, activation="sigmoid", kernel_initializer=init(), bias_initializer=bias),
            layers.Reshape(self.img_shape),
        ], name="generator")

    def build_discriminator(self):
        """Two maxout layers of 240 units x 5 pieces, sigmoid out, weights uniform in
        +-0.005; dropout keeps inputs with p 0.8 and hidden units with p 0.5, scaled
        by 1/p (the yaml's input_scales 1.25 and 2), as Keras's Dropout does."""
        init = lambda: keras.initializers.RandomUniform(-0.005, 0.005)
        return keras.Sequential([
            keras.Input(shape=self.img_shape),
            layers.Flatten(),
            layers.Dropout(0.2), *maxout(240, 5, init),
            layers.Dropout(0.5), *maxout(240, 5, init),
            layers.Dropout(0.5), layers.Dense(1, activation="sigmoid", kernel_initializer=init()),
        ], name="discriminator")

    def noise(self, n):
        """z uniform in [-sqrt 3, sqrt 3] (unit variance): the final yaml's noise: 'uniform'."""
        return keras.random.uniform((n, self.latent_dim), -math.sqrt(3), math.sqrt(3), seed=self.seed_generator)

    def host_noise(self, rng, n):
        return rng.uniform(-math.sqrt(3), math.sqrt(3), (n, self.latent_dim)).astype(np.float32)

    @staticmethod
    def from_pixels(x):
        """The sigmoid generator works in [0, 1]."""
        return (x.astype(np.float32) / 255.0)[..., None]

    @staticmethod
    def to_unit(images):
        return images

    @classmethod
    def training_digits(cls, n):
        if n >= cls.train_on + 1000:
            return cls.train_on, (f"digits {cls.train_on:,}-{n - 1:,} held out, as the authors' "
                                  "mnist.yaml")
        return n, (f"all of them: fewer than the {cls.train_on + 1000:,} the authors' split "
                   f"(train on 0-{cls.train_on - 1:,}) needs")

    def schedule(self, update, epoch):
        """mnist.yaml's learning rate and momentum for update `update` in pass
        `epoch` (both 0-based): the rate divided by 1.000004 per update down to
        1e-6; momentum 0.5 rising linearly to 0.7 from pass 1 to 250 (the
        MomentumAdjustor counts from 1 in the first pass)."""
        update = tf.cast(update, tf.float32)
        epoch = tf.cast(epoch, tf.float32)
        lr = tf.maximum(self.learning_rate * tf.exp(-update * math.log(self.decay)), self.min_lr)
        ramp = tf.minimum(epoch / (self.saturate - 1), 1.0)
        return lr, self.momentum_start + (self.momentum_end - self.momentum_start) * ramp

    def _update(self, x_train, batch_size):
        """One update of AdversaryCost2: one minibatch of real digits, one of
        samples, and D and G stepped together from the same forward pass."""
        per_epoch = tf.cast(tf.shape(x_train)[0] // batch_size, tf.int64)
        t = tf.convert_to_tensor(self.updates)
        epoch, pos = t // per_epoch, t % per_epoch
        # a gather, not order[a:b]: XLA would compile anew for every slice position
        real = tf.gather(x_train, tf.gather(self.order, pos * batch_size + tf.range(batch_size, dtype=tf.int64)))
        z = self.noise(batch_size)
        ones, zeros = tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))
        bce = keras.losses.binary_crossentropy
        with tf.GradientTape(persistent=True) as tape:
            y_real = self.discriminator(real, training=True)
            y_fake = self.discriminator(self.generator(z, training=True), training=True)
            # ---- D: maximize log D(x) + log(1 - D(G(z))) ----
            loss_real = tf.reduce_mean(bce(ones, y_real))
            loss_fake = tf.reduce_mean(bce(zeros, y_fake))
            d_obj = 0.5 * (loss_real + loss_fake)
            # ---- G: maximize log D(G(z)) (or minimize log(1 - D(G(z))) with --g-loss minimax),
            #      through the same samples and dropout masks ----
            g_obj = tf.reduce_mean(generator_objective(self.g_loss, y_fake))
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        grads = tape.gradient(g_obj, g_vars) + tape.gradient(d_obj, d_vars)
        # ---- both networks step at once, with the yaml's learning rate and momentum ----
        lr, momentum = self.schedule(t, epoch)
        for param, velocity, grad in zip(self.params, self.velocities, grads):
            velocity.assign(momentum * velocity - lr * grad)
            param.assign_add(velocity)
        self.updates.assign_add(1)
        acc_real = tf.reduce_mean(tf.cast(y_real > 0.5, tf.float32))
        acc_fake = tf.reduce_mean(tf.cast(y_fake < 0.5, tf.float32))
        return tf.stack([loss_real, acc_real, loss_fake, acc_fake, g_obj])

    def shuffle(self, n, batch_size):
        """Draw the order of pass `updates // per_epoch` onto the device, once per pass."""
        epoch = int(self.updates.numpy()) // (n // batch_size)
        if self._order_of != (n, epoch):
            rng = np.random.default_rng([int(self.shuffle_seed.numpy()), epoch])
            order = rng.permutation(n).astype(np.int64)
            if self.order is None or self.order.shape[0] != n:
                # a new variable for another data size: the compiled update must capture it anew
                self.order = tf.Variable(order, trainable=False)
                self._step = tf.function(self._update, jit_compile=self._jit_compile, autograph=False)
            else:
                self.order.assign(order)
            self._order_of = (n, epoch)
            self._next_shuffle = (epoch + 1) * (n // batch_size)

    def train_iteration(self, x_train, batch_size):
        """One of the authors' updates (D and G together). Returns gan.py's loop's
        ([d_loss_real, d_acc_real], [d_loss_fake, d_acc_fake], g_loss)."""
        if self._order_of is None or self._host_updates >= self._next_shuffle:
            self.shuffle(int(x_train.shape[0]), batch_size)
            self._host_updates = int(self.updates.numpy())
        r_loss, r_acc, f_loss, f_acc, g_loss = self._step(x_train, batch_size).numpy().tolist()
        self._host_updates += 1
        return [r_loss, r_acc], [f_loss, f_acc], g_loss

    def state_variables(self):
        weights = self.weight_variables()
        state = dict(weights)
        keys = {id(v): k for k, v in weights.items()}
        for param, velocity in zip(self.params, self.velocities):
            state[f"sgd/{keys[id(param)]}/velocity"] = velocity
        state.update({"sgd/updates": self.updates, "sgd/shuffle_seed": self.shuffle_seed,
                      "rng": self.seed_generator.state})
        return state

    def load_checkpoint(self, path):
        out = super().load_checkpoint(path)
        self._order_of = None  # the pass may have changed: draw its order again
        return out


# The command line's names for the models: a variant is a subclass, chosen here.
ARCHS = {"keras-gan": GAN, "paper": PaperGAN}
ARCH_NAMES = {cls: name for name, cls in ARCHS.items()}
OLD_ARCH_NAMES = {"seed": "keras-gan"}  # what run.json, checkpoints and --arch said before the rename


def arch_name(name):
    """The model's current name, for names that older run folders and checkpoints still hold."""
    return OLD_ARCH_NAMES.get(name, name)


# -----------------------------------------------------------------------------
# Figure 1 of the paper, from a real run: a 1-D GAN with gan.py's loop


class ToyGAN(GAN):
    """The paper's Figure 1 setting: 1-D data, uniform noise, and GAN's own
    three train_on_batch steps (D on real, D on fake, G through the frozen D);
    with gan.py's Adam(0.0002, 0.5); only the networks, the noise and the batch are the toy's."""

    img_shape = (1,)
    batch_size = 256
    data_mean, data_std = 1.0, 0.25   # p_data = N(1, 0.25^2), away from where the generator starts

    def __init__(self, seed=None, jit_compile=True, g_loss=G_LOSS):
        super().__init__(latent_dim=1, seed=seed, jit_compile=jit_compile, g_loss=g_loss)

    def build_generator(self):
        return keras.Sequential([keras.Input(shape=(1,)), layers.Dense(32), layers.LeakyReLU(0.2),
                                 layers.Dense(32), layers.LeakyReLU(0.2), layers.Dense(1)], name="generator")

    def build_discriminator(self):
        return keras.Sequential([keras.Input(shape=(1,)), layers.Dense(64), layers.LeakyReLU(0.2),
                                 layers.Dense(64), layers.LeakyReLU(0.2), layers.Dense(1, activation="sigmoid")],
                                name="discriminator")

    def noise(self, n):
        """z uniform on [-1, 1], as the lower line of the paper's Figure 1."""
        return keras.random.uniform((n, 1), -1.0, 1.0, seed=self.seed_generator)

    def host_noise(self, rng, n):
        return rng.uniform(-1.0, 1.0, (n, 1)).astype(np.float32)

    def p_data(self, x):
        return np.exp(-0.5 * ((x - self.data_mean) / self.data_std) ** 2) / (self.data_std * math.sqrt(2 * math.pi))

    def densities(self, x, samples=20000, seed=1):
        """On the points x: p_data, p_g (a Gaussian kernel density of `samples`
        generator samples, Silverman's bandwidth), D(x) and the optimal
        D*(x) = p_data / (p_data + p_g) (the paper's Proposition 1)."""
        g = self.generator(self.host_noise(np.random.default_rng(seed), samples), training=False).numpy()[:, 0]
        h = 1.06 * max(g.std(), 1e-3) * samples ** -0.2
        p_g = np.zeros_like(x)
        for start in range(0, samples, 2000):  # bounded memory: points x 2000 at a time
            u = (x[:, None] - g[None, start:start + 2000]) / h
            p_g += np.exp(-0.5 * u ** 2).sum(1)
        p_g /= samples * h * math.sqrt(2 * math.pi)
        p_data = self.p_data(x)
        d = self.discriminator(x[:, None].astype(np.float32), training=False).numpy()[:, 0]
        total = p_data + p_g
        d_star = np.divide(p_data, total, out=np.full_like(x, np.nan), where=total > 1e-12)
        return p_data, p_g, d, d_star


# -----------------------------------------------------------------------------
# The run folder: one object that checks a run's two folders before anything is
# written, keeps its settings, and writes, and records, every file of the run

CHECKPOINT, HISTORY, SETTINGS = "checkpoint.npz", "history.csv", "run.json"
HISTORY_FIELDS = ["iteration", "d_loss_real", "d_loss_fake", "d_loss", "d_acc", "g_loss", "seconds",
                  "heldout_ll"]
MONITOR_SAMPLES = 10000   # generator samples per held-out estimate, as many as the final evaluation
FINAL_WEIGHTS = ("generator.weights.h5", "discriminator.weights.h5")
BEST_FILES = ("generator.weights.h5", "best.json")
RUN_FILES = (SETTINGS, CHECKPOINT, HISTORY, "losses.png") + FINAL_WEIGHTS
GIF = "progress.gif"
# Settings a run keeps for life, and those a resumed run may change; IDENTITY: the
# fields of run.json that must equal the copy in the run's checkpoint (the grid
# folder and data path are where the run's files are now: a moved run may change them).
FIXED = ("arch", "latent_dim", "batch_size", "seed", "images", "g_loss", "d_steps")
CHANGEABLE = ("epochs", "sample_interval", "log_every", "checkpoint_interval", "eval_every")
IDENTITY = ("run_id", "arch", "latent_dim", "batch_size", "seed", "g_loss", "d_steps", "data_sha256")
INTERVALS = dict(epochs=EPOCHS, sample_interval=SAMPLE_INTERVAL, log_every=None,
                 checkpoint_interval=CHECKPOINT_INTERVAL, eval_every=EVAL_EVERY)


class RunFolder:
    """A run's folders, `run_dir` (run.json, history.csv, losses.png, the
    checkpoint, the final weights, best/) and `images` (the grids and the GIF),
    and every file the run writes there.

    Which files are this run's is decided one way: each checkpoint records every
    file the run has written, with its sha256 (`files` in its metadata; for
    history.csv, a sha256 of its rows up to the checkpoint). On --resume a file
    that does not match is not this run's, whoever wrote it and whenever, and is
    refused in one line that names it; what the run rebuilds itself (losses.png,
    progress.gif, grids and rows past the checkpoint, a lost run.json) is rebuilt.
    run.json is compared field by field with the checkpoint's own copy."""

    def __init__(self, run_dir=RUN_DIR, images=IMAGES, settings=None, monitor=None, progress=False):
        self.dir, self.images = run_dir, images
        self.settings = {**INTERVALS, **(settings or {})}  # a command-line run's: run.json's
        self.monitor, self.progress = monitor, progress    # monitor(gan): a held-out (ll, se, sigma)
        self.locks, self.resume, self.overwrite = [], False, False
        self.meta, self.restored = None, None  # the checkpoint to continue, its metadata and state
        self.files = {}                        # every file this run wrote: its key -> sha256
        self.history, self.rows, self.best = [], hashlib.sha256(), None
        self.stop, self.bar, self.saved_at = {}, None, 0

    def path(self, key):
        """A file's key (as the checkpoint records it) -> its path: 'images/...' is in the grid folder."""
        return os.path.join(self.images, key[7:]) if key.startswith("images/") else os.path.join(self.dir, key)

    # --- opening: every check, before anything is written ---

    @classmethod
    def open(cls, args, context, settings=None):
        """The folder of a new run with `settings` (refusing one that holds another
        run), or of the run to --resume (its settings from run.json, every file
        checked against its checkpoint). Only the locks are taken here."""
        if args.resume and kind_of(args.run_dir) != "folder":
            raise UsageError(f"--resume: no run folder {args.run_dir}/; start a new run without --resume, "
                             "or pass the run's --run-dir")
        locks = context["locks"] = []
        fix = "move it away and --resume again" if args.resume else "move it away and try again"
        if args.resume:
            locks.append(lock_folder(args.run_dir, fix))  # before reading the run: nobody else writes it now
        if not (args.resume or args.overwrite):
            cls.refuse_other_run(args.run_dir)
        if args.resume:
            settings = cls.read_settings(args.run_dir)
            settings.update(cls.given_settings(args, settings, args.run_dir))
        run = cls(args.run_dir, settings["images"], settings)
        run.locks, run.resume, run.overwrite, run.fix = locks, args.resume, args.overwrite, fix
        if args.resume:
            run.check_output_paths()
            run.check_resumable()
        return run

    @staticmethod
    def refuse_other_run(run_dir):
        """A new run (without --overwrite) refuses a folder that holds any run's files."""
        found = [n for n in RUN_FILES + ("best",) if os.path.lexists(os.path.join(run_dir, n))]
        if {SETTINGS, CHECKPOINT} & set(found):
            raise UsageError(f"{run_dir}/ already holds a run; pass --resume to continue it, --overwrite "
                             "to replace it, or another --run-dir")
        if found:
            raise UsageError(f"{run_dir}/ holds a run's files ({', '.join(found)}) but nothing to resume "
                             "from; pass --overwrite to replace them, or another --run-dir")

    @staticmethod
    def read_settings(run_dir):
        """The run's settings from its run.json or, when that is missing or damaged,
        from the copy its checkpoint holds (then run.json is written again)."""
        path, checkpoint = os.path.join(run_dir, SETTINGS), os.path.join(run_dir, CHECKPOINT)
        try:
            with open(path, encoding="utf-8") as f:
                settings, why = checked_settings(json.loads(f.read(100000)))
        except FileNotFoundError:
            settings, why = None, "missing"
        except (OSError, ValueError) as e:
            settings, why = None, f"unreadable ({getattr(e, 'strerror', None) or type(e).__name__})"
        if settings is not None:
            return settings
        try:
            meta = read_checkpoint(checkpoint, meta_only=True)[0] if kind_of(checkpoint) == "file" else {}
        except CheckpointError:
            meta = {}
        copy, _ = checked_settings(meta.get("settings"))
        if copy is not None and copy["run_id"] == meta.get("run_id"):
            print(f"gan_2014: {path} is {why}; the run's settings come from its checkpoint", flush=True)
            return copy
        if why == "missing" and kind_of(checkpoint) == "missing":
            raise UsageError(f"--resume: {run_dir}/ holds no run ({SETTINGS} and {CHECKPOINT} are missing); "
                             "start a new run without --resume, or pass the run's --run-dir")
        where = "its checkpoint has no copy of them (written before 2026-11-28, or damaged)"
        raise UsageError(f"--resume: {path} is {why} and {where}; put back a copy of the run's {SETTINGS}, "
                         "or start a new run with --overwrite (deletes this one) or another --run-dir")

    @staticmethod
    def given_settings(args, settings, run_dir):
        """What a resumed run takes from the command line: an option given again
        must agree with the run's, except those a resumed run may change."""
        given = options_given(args)
        for key, value in given.items():
            recorded = settings[key]
            if key == "images":
                value, recorded = os.path.abspath(value), os.path.abspath(recorded)
            if key in FIXED and value != recorded:
                raise UsageError(f"{flag(key)} {value} conflicts with the run's {recorded} "
                                 f"(from {os.path.join(run_dir, SETTINGS)}); drop {flag(key)} "
                                 "to keep the run's, or start a new run")
        return {k: v for k, v in given.items() if k in CHANGEABLE}

    def check_output_paths(self):
        """Every path the run writes is absent or of the right kind (a file where a
        file goes, a folder where a folder goes): checked before anything is removed,
        made or trained, so that a wrong one costs nothing."""
        described = {"folder": "a folder", "other": "not a regular file (a pipe, a device or a broken link)"}
        best = os.path.join(self.dir, "best")
        if kind_of(best) not in ("missing", "folder"):
            raise UsageError(f"{best}: {described.get(kind_of(best), 'a file')} where the run keeps its best "
                             f"generator's folder; {self.fix}")
        files = [os.path.join(self.dir, n) for n in RUN_FILES + ("crash.log", ".lock")]
        files += [os.path.join(best, n) for n in BEST_FILES]
        if os.path.isdir(self.images):
            files += [os.path.join(self.images, n) for n in (GIF, OWNER, ".lock")]
            files += [os.path.join(self.images, n) for n in sorted(os.listdir(self.images)) if is_grid_name(n)]
        for path in files:
            kind = kind_of(path)
            if kind not in ("missing", "file"):
                raise UsageError(f"{path}: {described[kind]} where the run writes a file; {self.fix}")

    def check_resumable(self):
        """Everything --resume continues must be this run's: the checkpoint (its run
        id), run.json (field by field against the checkpoint's copy), and every file
        the checkpoint recorded. A missing checkpoint is refused when the run had
        written one (starting again is right only before the first)."""
        checkpoint, settings = self.path(CHECKPOINT), self.settings
        other = ("put back this run's own, or start a new run with --overwrite (deletes this one) or "
                 "another --run-dir")
        if kind_of(checkpoint) != "file":
            if settings.get("checkpointed") or self.reached_checkpoint():
                last = read_history(self.path(HISTORY), upto=2 ** 62)
                reached = f" (its history reaches iteration {last[-1][0]})" if last else ""
                raise UsageError(f"--resume: {checkpoint} is missing, but this run had written one{reached}; put "
                                 "it back, or start a new run with --overwrite (deletes this one) or another --run-dir")
            return self.check_best_owner()
        try:
            meta, _ = read_checkpoint(checkpoint, meta_only=True)
        except CheckpointError as e:
            raise UsageError(f"{checkpoint}: {e}; put back a whole copy of it, or start a new run with "
                             "--overwrite (deletes this one) or another --run-dir") from None
        rebuild = f"remove {SETTINGS} and --resume again (it is rebuilt from the checkpoint)"
        if meta.get("run_id", settings["run_id"]) != settings["run_id"]:
            raise UsageError(f"{checkpoint} belongs to another run (run id {meta['run_id'][:8]}, this run is "
                             f"{settings['run_id'][:8]}); {other}; or, if {SETTINGS} was edited, {rebuild}")
        copy = dict(meta.get("settings") or {})
        copy.update({"arch": arch_name(copy["arch"])} if "arch" in copy else {})
        for key in (k for k in IDENTITY if k in copy and copy[k] != settings[k]):
            raise UsageError(f"{self.path(SETTINGS)}: its {key} {settings[key]!r} is not the run's {copy[key]!r} "
                             f"(recorded in {CHECKPOINT}); put back {copy[key]!r}, or {rebuild}")
        if (meta["arch"], meta["latent_dim"]) != (settings["arch"], settings["latent_dim"]):
            raise UsageError(f"{checkpoint} is for arch {meta['arch']} with latent size {meta['latent_dim']}, "
                             f"but {SETTINGS} says arch {settings['arch']} with {settings['latent_dim']}; " + other)
        self.check_history(meta)
        self.check_best_owner()
        self.check_files(meta)
        self.meta, start = meta, meta["iteration"]
        if start > settings["epochs"] or (start == settings["epochs"] and self.finished(meta)):
            raise UsageError(f"{checkpoint} is at iteration {start}, which already reaches --epochs "
                             f"{settings['epochs']}; pass a larger --epochs to train further")

    def reached_checkpoint(self):
        """For a run.json older than its "checkpointed" mark: whether its history or
        final weights show that the run got as far as its first checkpoint."""
        rows = read_history(self.path(HISTORY), upto=2 ** 62)
        first = min(self.settings["checkpoint_interval"], self.settings["epochs"])
        return bool(rows and rows[-1][0] >= first) or any(
            os.path.lexists(self.path(n)) for n in ("generator.weights.h5", "best"))

    def check_history(self, meta):
        path, start = self.path(HISTORY), meta["iteration"]
        rows = read_history(path, upto=start)
        fix = ("put back this run's own, or move it away and --resume again (the run goes on without its "
               "earlier rows)")
        if "first_row" in meta and rows and rows[0][0] == 1 and rows[0][1:6] != meta["first_row"]:
            raise UsageError(f"{path} belongs to another run (its first row is not the one this run's checkpoint "
                             "recorded); " + fix)
        recorded = (meta.get("files") or {}).get(HISTORY)
        if recorded and kind_of(path) == "file" and rows_digest(rows).hexdigest() != recorded:
            last = rows[-1][0] if rows else 0
            why = (f"it ends at iteration {last}, older than the checkpoint's {start}" if last < start
                   else "its rows are not those the checkpoint recorded")
            raise UsageError(f"{path} is not this run's history ({why}); " + fix)

    def check_best_owner(self):
        """best.json names its run: another run's best generator is refused."""
        try:
            with open(os.path.join(self.dir, "best", "best.json")) as f:
                owner = json.loads(f.read(100000)).get("run_id")
        except (OSError, ValueError, AttributeError):
            owner = None
        if owner not in (None, self.settings["run_id"]):
            raise UsageError(f"{os.path.join(self.dir, 'best')}/ holds another run's best generator; move it "
                             "away and --resume again")

    def present_files(self, upto):
        """The keys of the files of the run's kinds in its folders, grids up to iteration `upto`."""
        keys = [k for k in FINAL_WEIGHTS + tuple("best/" + n for n in BEST_FILES) if kind_of(self.path(k)) == "file"]
        if os.path.isdir(self.images):
            keys += [f"images/{n}" for n in sorted(os.listdir(self.images), key=lambda n: (len(n), n))
                     if is_grid_name(n) and int(n[:-4]) <= upto]
        return keys

    def check_files(self, meta):
        """Each file of the run's kinds must be the one the checkpoint recorded."""
        self.claim_images(check_only=True)  # a grid folder marked as another run's: named as such
        recorded = meta.get("files")
        if recorded is None:  # a checkpoint from before 2026-12-01: what the folder holds is taken as the run's
            return
        after = {"best": "the run's best is then chosen again from its next estimates",
                 "images": "the run goes on without it", "": "the run writes its own at its end"}
        for key in self.present_files(meta["iteration"]):
            if file_sha256(self.path(key)) != recorded.get(key):
                kind = key.split("/")[0] if "/" in key else ""
                path = os.path.join(self.dir, "best") + "/" if kind == "best" else self.path(key)
                raise UsageError(f"{self.path(key)} is not this run's (not the file its checkpoint recorded: "
                                 f"another run's, or an older copy); move {path} away and --resume again "
                                 f"({after[kind]})")

    def finished(self, meta):
        """Whether the final weights are there and are the run's (written after its last checkpoint's iteration)."""
        recorded = meta.get("files")
        if recorded is not None:
            return all(w in recorded and kind_of(self.path(w)) == "file" for w in FINAL_WEIGHTS)
        checkpoint = os.path.getmtime(self.path(CHECKPOINT))  # older checkpoints: the files' times
        return all(kind_of(self.path(w)) == "file" and os.path.getmtime(self.path(w)) >= checkpoint
                   for w in FINAL_WEIGHTS)

    def check_data(self, mnist, data_arg):
        """A resumed run must see the digits it started with (by their sha256, wherever the file is now)."""
        digest = data_digest(mnist)
        if self.resume and digest != self.settings["data_sha256"]:
            raise UsageError(f"--data {self.data_path(data_arg) or 'keras.datasets.mnist'}: its digits (sha256 "
                             f"{digest}) are not the run's (sha256 {self.settings['data_sha256']}, "
                             f"{self.settings['data'] or 'downloaded'}); pass the run's data file")
        self.settings["data_sha256"] = digest
        if data_arg is not None:
            self.settings["data"] = os.path.abspath(data_arg)  # where the run's digits are now

    def data_path(self, data_arg):
        return data_arg if data_arg is not None else self.settings.get("data")

    def check_writes(self):
        """The folders can be written and hold nothing of the wrong kind or of
        another run; then a new run's folders are made and locked."""
        self.claim_images(check_only=True)
        for folder, option in ((self.dir, "--run-dir"), (self.images, "--images")):
            check_writable_dir(folder, option, self.fix if self.resume else f"choose another {option}")
        self.check_output_paths()  # before --overwrite removes anything
        if not self.resume:
            ensure_writable_dir(self.dir, "--run-dir")
            self.locks.append(lock_folder(self.dir, self.fix))
            if not self.overwrite:
                self.refuse_other_run(self.dir)  # again, under the lock: another start may have come in between
        ensure_writable_dir(self.images, "--images")
        if os.path.realpath(self.images) != os.path.realpath(self.dir):
            self.locks.append(lock_folder(self.images, self.fix))

    def claim_images(self, check_only=False):
        """The grid folder is the run's: another run's grids there (by its mark) are
        refused, or removed with --overwrite, so that no folder mixes two runs'
        grids. A resumed run whose folder lost its mark takes the folder its
        run.json names as its own (its grids are checked against the checkpoint)."""
        images, run_id = self.images, self.settings["run_id"]
        if not os.path.isdir(images):
            return
        owner = grid_owner(images)
        theirs = grid_files(images) if owner != run_id and not (self.resume and owner is None) else []
        if theirs and self.resume:
            raise UsageError(f"--images {images}: holds another run's grids ({len(theirs)} files such as "
                             f"{sorted(theirs)[0]}); move them away and --resume again")
        if theirs and not self.overwrite:
            raise UsageError(f"--images {images}: holds another run's grids ({len(theirs)} files such as "
                             f"{sorted(theirs)[0]}); pass --overwrite to replace them or another --images")
        if check_only:
            return
        for name in theirs:
            os.remove(os.path.join(images, name))
        if owner != run_id:
            atomic_write(os.path.join(images, OWNER), lambda tmp: write_text(tmp, run_id))

    def restore(self, gan):
        """Load the checkpoint to continue into `gan` (whole and this model's, or refused)."""
        if self.meta is None:
            return None
        checkpoint = self.path(CHECKPOINT)
        self.restored = gan.load_checkpoint(checkpoint)
        if "run_id" in self.settings and "run_id" not in self.meta and not np.array_equal(  # a checkpoint from before they carried their run:
                self.restored[2], gan.host_noise(np.random.default_rng(self.settings["seed"]), 25)):  # its noise
            raise UsageError(f"{checkpoint} belongs to another run (its fixed noise is not from this run's "
                             "seed); put back this run's own, or start a new run with --overwrite (deletes "
                             "this one) or another --run-dir")
        return self.restored

    def resume_from(self, gan):
        """For a run made in Python: continue from the checkpoint in run_dir."""
        self.meta = read_checkpoint(self.path(CHECKPOINT), meta_only=True)[0]
        return self.restore(gan)

    # --- training: every file the run writes ---

    @contextlib.contextmanager
    def training(self, gan, epochs):
        """Every check passed: now the folders become the run's. Yields (first
        iteration, fixed noise). Meanwhile Ctrl-C, SIGTERM and SIGHUP (a closed
        terminal) ask the loop to finish its iteration, checkpoint and stop."""
        start, fixed_noise = self.begin(gan)
        def request_stop(signum, frame):
            if self.stop:  # asked twice: leave now; the last checkpoint is whole either way
                raise Interrupted(signum)
            self.stop["signal"] = signum
        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        self.epochs, self.t0 = epochs, time.perf_counter() - self.elapsed
        try:
            with open(self.path(HISTORY), "a", newline="") as self.history_file:
                self.writer = csv.writer(self.history_file)
                yield start, fixed_noise
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            if self.bar is not None and (not self.history or self.history[-1][0] < epochs):
                print(flush=True)  # end the bar's unfinished line: a message that follows starts its own

    def begin(self, gan):
        """Make the folders the run's: --overwrite's removals, run.json, the grid
        folder's mark, the checkpoint's state, the history up to it, what a
        resumed run rebuilds; a new run's fixed noise and its grid 0."""
        for folder in (self.dir, self.images):
            os.makedirs(folder, exist_ok=True)
        if self.overwrite:
            self.remove_old_run()
        for folder in (self.dir, self.images):
            remove_temporaries(folder)
        identified = "run_id" in self.settings  # a command-line run: run.json and the grid folder's mark
        if identified:
            self.claim_images()
            self.settings["checkpointed"] = bool(self.restored)
            self.write_settings()
        WRITE_GUARDS.append(self.guard)  # every file it writes, checked just before it lands
        start, self.elapsed, fixed_noise, self.best, collapsed = self.restored or (0, 0.0, None, None, None)
        self.saved_at = self.start = start
        self.history = read_history(self.path(HISTORY), upto=start)
        write_history(self.path(HISTORY), self.history)  # drops rows a killed run wrote past its checkpoint
        self.rows = rows_digest(self.history)
        self.watch = CollapseWatch(self.history, since=collapsed)
        self.recent = RecentMean(100)
        if self.resume or self.restored:
            recorded = (self.meta or {}).get("files")
            if recorded is None:  # an older checkpoint: the files it accepted are the run's from now on
                recorded = {k: file_sha256(self.path(k)) for k in self.present_files(start)}
            self.files = {k: v for k, v in recorded.items() if k != HISTORY and kind_of(self.path(k)) == "file"}
            self.rebuild(start)
        if fixed_noise is None:
            # One fixed batch of 25 latent points for every grid of the run, so the
            # grids show the same points evolving rather than new random digits.
            fixed_noise = gan.host_noise(np.random.default_rng(gan.seed), 25)
            self.add_grid(0, gan.sample_images(0, self.images, fixed_noise))  # the untrained generator
        return start, fixed_noise

    def rebuild(self, start):
        """What a resumed run rebuilds: grids past its checkpoint (the loop writes
        them again), a GIF that is not the run's (written again at the end), the
        plot; best/ that was moved away is chosen again."""
        for name in grid_files(self.images):
            key = f"images/{name}"
            if (name == GIF and self.files.get(key) != file_sha256(self.path(key))) or (
                    name != GIF and int(name[:-4]) > start):
                os.remove(self.path(key))
                self.files.pop(key, None)
        if not all(f"best/{n}" in self.files for n in BEST_FILES):
            self.best = None
        if self.history:
            plot_history(self.history, self.path("losses.png"))

    def remove_old_run(self):
        """What --overwrite removes from a run folder before a new run: the old run's files."""
        for name in RUN_FILES + ("crash.log",) + tuple(os.path.join("best", n) for n in BEST_FILES):
            if os.path.isfile(self.path(name)):
                os.remove(self.path(name))
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(self.dir, "best"))  # only if nothing else is in it

    def write_settings(self):
        atomic_write(self.path(SETTINGS), lambda tmp: write_text(tmp, json.dumps(self.settings, indent=1)))

    def guard(self):
        """Another run may own the folder's path now (it was removed or replaced): write nothing more there."""
        for path, _ in (lock for lock in self.locks if not still_locked(lock)):
            raise FolderGone(f"{os.path.dirname(path)}/ was removed or replaced while this run trained "
                             "(its lock file is not this process's); stopped without writing anything more")

    def record(self, gan, it, d_loss_real, d_loss_fake, d_loss, g_loss):
        """One iteration's row of history.csv; when due, the held-out estimate (and
        best/); the collapse watch; the progress bar."""
        row = [it, *(float(v) for v in (d_loss_real[0], d_loss_fake[0], d_loss[0], d_loss[1], g_loss)),
               round(time.perf_counter() - self.t0, 3), math.nan]
        if not all(math.isfinite(v) for v in row[:-1]):
            raise Stopped(f"training diverged at iteration {it} (D loss {d_loss[0]}, G loss {g_loss})",
                          it, self.saved_at, 1)
        self.guard()
        every = self.settings["eval_every"]
        if every and self.monitor and (it % every == 0 or it == self.epochs):
            ll, se, sigma = self.monitor(gan)
            row[-1] = round(ll, 3)
            if self.best is None or ll > self.best[1]:
                self.best = (it, ll)
                self.save_best(gan, it, ll, se, sigma)
            print(f"gan_2014: iteration {it}: held-out Parzen LL {ll:.1f} ± {se:.1f} (sigma {sigma:.3f}); "
                  f"best {self.best[1]:.1f} at iteration {self.best[0]}", flush=True)
        write_row(self.writer, self.path(HISTORY), row)
        self.rows.update(row_text(row).encode())
        self.history.append(row)
        news = self.watch.add(it, row[3], row[5])
        if news:  # said once, on a line of its own; the run goes on
            print(("\n" if self.bar is not None else "") + news, flush=True)
        if self.progress:
            if self.bar is None:
                # Made after this process's first iteration, which includes compiling:
                # Keras's ETA leaves out only the bar's first step. It counts this
                # process's iterations; the start line says where a resumed run began.
                self.bar = keras.utils.Progbar(self.epochs - self.start, unit_name="iteration",
                                               stateful_metrics=["D loss", "D acc", "G loss"])
            # values as they are now (the last 100 iterations), not since iteration 1
            self.recent.add(row[3], row[4], row[5])
            self.bar.update(it - self.start, list(zip(["D loss", "D acc", "G loss"], self.recent.mean())))

    def log_due(self, it, epochs, sample_interval):
        """gan.py's line every --log-every, by default with each grid; never under a progress bar."""
        every = self.settings["log_every"] or sample_interval
        return not self.progress and (it % every == 0 or it == epochs)

    def checkpoint_due(self, it, epochs):
        """At every interval and on a signal (which then stops the run); the last one is `finish`'s."""
        return (it % self.settings["checkpoint_interval"] == 0 and it < epochs) or bool(self.stop)

    def add_grid(self, it, path):
        """A grid was written: record it, and bring history.csv and losses.png up to date with it."""
        self.files[f"images/{os.path.basename(path)}"] = file_sha256(path)
        if it:
            flush(self.history_file, self.path(HISTORY))
            plot_history(self.history, self.path("losses.png"))

    def save_best(self, gan, iteration, ll, se, sigma):
        """best/: the generator with the best held-out estimate so far, and what it scored."""
        self.guard()  # the estimate took seconds
        folder = os.path.join(self.dir, "best")
        gan.save_weights(folder, [gan.generator])
        record = {"arch": ARCH_NAMES[type(gan)], "latent_dim": gan.latent_dim, "iteration": iteration,
                  "heldout_ll": ll, "se": se, "sigma": sigma, "run_id": self.settings.get("run_id")}
        atomic_write(os.path.join(folder, "best.json"), lambda tmp: write_text(tmp, json.dumps(record, indent=1)))
        for name in BEST_FILES:
            self.files[f"best/{name}"] = file_sha256(os.path.join(folder, name))

    def save_checkpoint(self, gan, it, fixed_noise):
        """The model's state, with the run's id and settings (a lost run.json is
        rebuilt from them) and every file it wrote so far; after a stop request,
        raises Stopped once it is written."""
        if not self.history_file.closed:
            flush(self.history_file, self.path(HISTORY))
        record = {"collapsed_since": self.watch.since, "files": {**self.files, HISTORY: self.rows.hexdigest()}}
        if self.history and self.history[0][0] == 1:
            record["first_row"] = [float(v) for v in self.history[0][1:6]]
        if "run_id" in self.settings:
            record.update(run_id=self.settings["run_id"], settings=self.settings)
        gan.save_checkpoint(self.path(CHECKPOINT), it, time.perf_counter() - self.t0, fixed_noise, self.best,
                            self.saved_at, **record)
        self.saved_at = it
        if "run_id" in self.settings and not self.settings["checkpointed"]:
            self.settings["checkpointed"] = True  # from now on a lost checkpoint is not a fresh start
            self.write_settings()
        if self.stop:
            raise Stopped(f"stopped by {signal.Signals(self.stop['signal']).name}", it, it, 128 + self.stop["signal"])

    def finish(self, gan, epochs, fixed_noise):
        """The final weights and the GIF, then the last checkpoint, which records them."""
        self.guard()
        gan.save_weights(self.dir)
        make_gif(self.images, epochs, self.path("images/" + GIF))
        for key in FINAL_WEIGHTS + ("images/" + GIF,):
            if kind_of(self.path(key)) == "file":
                self.files[key] = file_sha256(self.path(key))
        recorded = (self.meta or {}).get("files") if self.restored and self.restored[0] == epochs else None
        if recorded != {**self.files, HISTORY: self.rows.hexdigest()}:  # else the checkpoint says it all already
            self.save_checkpoint(gan, epochs, fixed_noise)


def row_text(row):
    """A history row as history.csv holds it (Python floats round-trip through their text)."""
    return ",".join("" if isinstance(v, float) and math.isnan(v) else str(v) for v in row) + "\n"


def rows_digest(rows):
    """The sha256 of history rows, as the checkpoint records it: the same rows read back give the same."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row_text(row).encode())
    return digest


SETTING_TYPES = {
    "arch": lambda v: v in ARCHS, "latent_dim": lambda v: type(v) is int and v > 0,
    "batch_size": lambda v: type(v) is int and v > 0, "seed": lambda v: type(v) is int and 0 <= v < 2 ** 32,
    "images": lambda v: isinstance(v, str) and v, "run_id": lambda v: isinstance(v, str) and v,
    "data": lambda v: v is None or isinstance(v, str), "data_sha256": lambda v: isinstance(v, str),
    "epochs": lambda v: type(v) is int and v > 0, "sample_interval": lambda v: type(v) is int and v > 0,
    "log_every": lambda v: v is None or (type(v) is int and v > 0),
    "checkpoint_interval": lambda v: type(v) is int and v > 0,
    "eval_every": lambda v: type(v) is int and v >= 0,
    "g_loss": lambda v: v in G_LOSSES, "d_steps": lambda v: type(v) is int and v > 0}
OPTIONAL_SETTINGS = {"checkpointed": lambda v: type(v) is bool}  # absent from run.json before 2026-11-28


def checked_settings(settings):
    """The settings if every one is there and of its kind; else why not."""
    if not isinstance(settings, dict):
        return None, "not a record of settings"
    if isinstance(settings.get("arch"), str):
        settings["arch"] = arch_name(settings["arch"])
    settings.setdefault("g_loss", G_LOSS)  # run.json from before these options: what it trained with
    settings.setdefault("d_steps", D_STEPS)
    for key, ok in SETTING_TYPES.items():
        if key not in settings or not ok(settings[key]):
            return None, f"no valid {key!r}"
    for key, ok in OPTIONAL_SETTINGS.items():
        if key in settings and not ok(settings[key]):
            return None, f"no valid {key!r}"
    return settings, None


# -----------------------------------------------------------------------------
# The run folder's tools: files written so that a crash, a kill or a full disk
# never leaves half a file under the final name; locks, so that two runs never
# share a folder; grids, the GIF, the history and its plot; checked reading

TMP_PREFIX = ".tmp-"  # atomic_write's temporary files; a later start removes those a kill left
WRITE_GUARDS = []     # called just before each file takes its final name: they raise if it must not

def mb(nbytes):
    return f"{nbytes / 2 ** 20:,.0f} MB" if nbytes < 2 ** 30 else f"{nbytes / 2 ** 30:,.1f} GB"


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


def atomic_write(path, write, needs=None):
    """Call `write(tmp_path)`, then move the result over `path` in one step.
    A failure leaves `path` as it was and raises WriteError."""
    folder, name = os.path.split(os.path.abspath(path))
    ext = ".weights.h5" if name.endswith(".weights.h5") else os.path.splitext(name)[1]  # Keras checks it
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{name}-", suffix=ext, dir=folder)
        os.close(fd)
        PENDING.add(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's files are private; ours are ordinary files
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        for guard in WRITE_GUARDS:
            guard()
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            # A write that failed because its folder was removed or replaced says
            # so (the guards raise), not "free some space".
            for guard in WRITE_GUARDS:
                guard()
            raise WriteError(path, e.strerror or str(e).splitlines()[0], needs) from None
        raise
    finally:
        PENDING.discard(tmp)


def flush(file, path):
    try:
        file.flush()
    except OSError as e:
        raise WriteError(path, e.strerror or e) from None


def write_row(writer, path, row):
    try:
        writer.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row])
    except OSError as e:
        raise WriteError(path, e.strerror or e) from None


class FolderInUse(Exception):
    pass


def lock_folder(folder, fix="move it away and try again"):
    """Hold `folder` for this process: an exclusive lock on folder/.lock, which the
    kernel releases when the process ends, however it ends, so a lock left by a
    dead process never blocks anyone. Returns what unlock_folder needs."""
    path = os.path.join(folder, ".lock")
    while True:
        if kind_of(path) not in ("missing", "file"):
            raise UsageError(f"{path}: not a file, where the run keeps its lock file; {fix}")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UsageError(f"{folder}: cannot write there ({e.strerror or e}); choose another folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FolderInUse(f"{folder}/ is in use by another training (process {holder})") from None
        try:  # the holder before us may have removed the file after we opened it: try again
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return path, fd


def still_locked(lock):
    """Whether folder/.lock is still the file this process locked: not when the
    folder was removed, moved or replaced (another run may hold the path now)."""
    path, fd = lock
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)


def unlock_folder(lock):
    path, fd = lock
    try:
        if still_locked(lock):  # never another run's lock, in a folder that replaced ours
            os.remove(path)
    finally:
        os.close(fd)


def remove_temporaries(folder):
    """Remove what a killed run's atomic writes left: .tmp-* files, ours alone."""
    for name in os.listdir(folder):
        if name.startswith(TMP_PREFIX) and os.path.isfile(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))


OWNER = ".gan_2014-run"  # in a grid folder: the id of the run whose grids it holds


def grid_files(folder):
    """The names in `folder` that a run writes there: <iteration>.png and progress.gif."""
    return [n for n in os.listdir(folder) if n == "progress.gif" or is_grid_name(n)]


def is_grid_name(name):
    stem = name[:-4]
    return name.endswith(".png") and stem.isdigit() and stem == str(int(stem))  # "007.png" is not ours


def grid_owner(folder):
    try:
        with open(os.path.join(folder, OWNER)) as f:
            return f.read(100).strip()
    except (OSError, UnicodeDecodeError):
        return None


GRID_SCALE = 3  # grid PNGs: each digit pixel as 3x3 screen pixels
GIF_SCALE = 2   # progress.gif: 2x2, to keep 150 frames to a few MB


def save_grid(images, path, scale=GRID_SCALE):
    """A mosaic of [0, 1] grey digits, 2 px apart, scaled up for a screen."""
    from PIL import Image
    n, h, w = images.shape[0], images.shape[1], images.shape[2]
    rows = cols = int(math.ceil(math.sqrt(n)))
    pad = 2
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h,
               pad + c * (w + pad): pad + c * (w + pad) + w] = images[i, :, :, 0]
    canvas = np.nan_to_num(canvas, nan=0.0)  # a diverged generator's grid: black where it gave NaN
    img = Image.fromarray(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), "L")
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def nearest_digits(samples, digits, chunk=512):
    """For each sample, the index of the nearest digit (Euclidean distance of
    [0, 1] pixels) and that distance, in blocks of `chunk` x `chunk`, so 10,000
    samples against 60,000 digits need a few tens of MB, not gigabytes."""
    a = samples.reshape(len(samples), -1).astype(np.float64)
    index = np.zeros(len(a), np.int64)
    best = np.full(len(a), np.inf)
    for start in range(0, len(digits), 4 * chunk):
        b = digits[start:start + 4 * chunk].reshape(-1, a.shape[1]).astype(np.float64) / 255.0
        b_sq = np.einsum("ij,ij->i", b, b)
        for s in range(0, len(a), chunk):
            block = a[s:s + chunk]
            sq = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ b.T + b_sq[None, :]
            j = np.argmin(sq, axis=1)
            better = sq[np.arange(len(block)), j] < best[s:s + chunk]
            best[s:s + chunk][better] = sq[np.arange(len(block)), j][better]
            index[s:s + chunk][better] = start + j[better]
    nearest = digits[index].astype(np.float32) / 255.0
    distance = np.sqrt(((a - nearest.reshape(len(a), -1)) ** 2).sum(1))  # exact, for the chosen ones
    return index, nearest, distance


def save_mosaic(images, path, cols, marked=()):
    """[0, 1] grey digits in rows of `cols`, 2 px apart, scaled up; the cells in
    `marked` framed in yellow, as the paper's Figure 2 frames training digits."""
    from PIL import Image
    n, h, w = images.shape[:3]
    rows, pad = int(math.ceil(n / cols)), 2
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        if i in marked:
            canvas[y - 1:y + h + 1, x - 1:x + w + 1] = (1.0, 0.85, 0.0)
        canvas[y:y + h, x:x + w] = np.nan_to_num(images[i].reshape(h, w), nan=0.0)[..., None]
    img = Image.fromarray(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), "RGB")
    return img.resize((img.width * GRID_SCALE, img.height * GRID_SCALE), Image.NEAREST)


def make_gif(folder, last, path):
    """progress.gif: every grid of the run, in order, the last one held longer."""
    from PIL import Image
    frames = []
    for n in sorted(int(name[:-4]) for name in os.listdir(folder) if is_grid_name(name)):
        if n > last:
            continue
        try:
            with Image.open(os.path.join(folder, f"{n}.png")) as img:
                w, h = img.width // GRID_SCALE, img.height // GRID_SCALE
                frames.append(img.convert("L").resize((w, h), Image.NEAREST)
                              .resize((w * GIF_SCALE, h * GIF_SCALE), Image.NEAREST))
        except (OSError, ValueError):
            continue  # a grid someone replaced with something else: the GIF goes without it
    if frames:
        durations = [120] * (len(frames) - 1) + [2000]
        atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True,
                                                      append_images=frames[1:], duration=durations, loop=0))


class RecentMean:
    """The mean of the last n values of a few series: what the progress bar shows."""

    def __init__(self, n):
        self.n, self.rows = n, []

    def add(self, *values):
        self.rows.append(values)
        del self.rows[:-self.n]

    def mean(self):
        return np.mean(self.rows, axis=0).tolist()


COLLAPSE_WINDOW = 500     # iterations the collapse watch looks back over (CollapseWatch)
COLLAPSE_D_LOSS = 0.01    # D's mean loss over them under this: the run has collapsed


class CollapseWatch:
    """Notices a run whose discriminator has won for good: over the last
    `window` iterations it told real digits from generated ones with a mean
    loss under `threshold` (calibrated on the authors' model, docs/results.md#collapse).
    Then G's gradient through D is all but gone and its samples stop changing.
    `since` is the first iteration of the window where that began; it clears
    if D's mean loss climbs back over ten times the threshold."""

    def __init__(self, history=(), since=None):
        self.since, self.window, self.threshold = since, COLLAPSE_WINDOW, COLLAPSE_D_LOSS
        self.recovered = 10 * self.threshold
        self.recent = collections.deque()  # (D loss, G loss) of the window, and their running sums:
        self.sums = [0.0, 0.0]             # one addition a step, not a mean of 500 rows
        for row in history[-self.window:]:  # a resumed run looks back as far as an uninterrupted one
            self._push(row[3], row[5])

    def _push(self, d_loss, g_loss):
        self.recent.append((d_loss, g_loss))
        self.sums = [self.sums[0] + d_loss, self.sums[1] + g_loss]
        if len(self.recent) > self.window:
            d_old, g_old = self.recent.popleft()
            self.sums = [self.sums[0] - d_old, self.sums[1] - g_old]

    def add(self, iteration, d_loss, g_loss):
        """Returns a line to print when the run collapses or recovers, else None."""
        self._push(float(d_loss), float(g_loss))
        if len(self.recent) < self.window:
            return None
        d_mean, g_mean = (total / self.window for total in self.sums)
        if self.since is None and d_mean < self.threshold:
            self.since = iteration - self.window + 1
            return (f"gan_2014: iteration {iteration}: the run has collapsed: since iteration {self.since} the "
                    f"discriminator has told every real digit from every generated one (mean D loss "
                    f"{d_mean:.3g} over {self.window} iterations, G loss {g_mean:.3g}), so the generator learns "
                    "next to nothing; training goes on in case it recovers, but a new run with another --seed "
                    "is the likelier fix")
        if self.since is not None and d_mean > self.recovered:
            since, self.since = self.since, None
            return (f"gan_2014: iteration {iteration}: the run has recovered from the collapse of iteration "
                    f"{since} (mean D loss {d_mean:.3g} over {self.window} iterations)")
        return None


def collapse_note(path, since):
    """What sample, evaluate and --resume say of a checkpoint that recorded a collapse."""
    return (f"gan_2014: note: {path} records that its run collapsed at iteration {since} (its discriminator "
            "won for good); its samples will show it; a run with another --seed is the likelier fix")


def read_history(path, upto):
    """Rows of history.csv for iterations 1..upto, in order (a killed run may have
    written more; a damaged line is skipped, whatever it holds)."""
    rows = []
    if not os.path.isfile(path):
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        while True:
            line = f.readline(10000)
            if not line:
                break
            if not line.endswith("\n") and len(line) == 10000:
                while line and not line.endswith("\n"):  # the rest of an overlong line
                    line = f.readline(10000)
                continue
            parts = line.strip().split(",")
            if len(parts) not in (len(HISTORY_FIELDS) - 1, len(HISTORY_FIELDS)):
                continue
            try:
                row = [int(parts[0])] + [float(p) for p in parts[1:7]]
                row.append(float(parts[7]) if len(parts) > 7 and parts[7] else math.nan)
            except ValueError:
                continue  # the header, or a line cut short by a kill
            if (rows[-1][0] if rows else 0) < row[0] <= upto:
                rows.append(row)
    return rows


def write_history(path, rows):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HISTORY_FIELDS)
            writer.writerows(["" if isinstance(v, float) and math.isnan(v) else v for v in r] for r in rows)
    atomic_write(path, write)


def plot_history(history, path):
    """Losses and discriminator accuracy against iterations, smoothed for reading,
    and the held-out Parzen estimate when the run measures one."""
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window: runs the same on a headless server
    import matplotlib.pyplot as plt
    h = np.asarray(history, dtype=np.float64)
    it = h[:, 0]
    window = max(1, len(h) // 200)
    smooth = lambda v: np.convolve(v, np.ones(window) / window, mode="valid")
    x = it[window - 1:]
    measured = np.isfinite(h[:, 7])
    panels = 3 if measured.any() else 2
    fig, axes = plt.subplots(panels, 1, figsize=(8, 3 * panels), sharex=True)
    ax1, ax2 = axes[0], axes[1]
    ax1.plot(x, smooth(h[:, 3]), label="D loss (mean of real and fake)")
    ax1.plot(x, smooth(h[:, 5]), label="G loss")
    ax1.axhline(math.log(4) / 2, color="grey", lw=0.8, ls="--", label="D loss at equilibrium (log 2)")
    ax1.set_ylabel("binary cross-entropy")
    ax1.legend(loc="upper right", fontsize="small")
    ax2.plot(x, 100 * smooth(h[:, 4]), color="tab:green")
    ax2.axhline(50, color="grey", lw=0.8, ls="--")
    ax2.set_ylim(-3, 103)  # a line at 0% or 100% stays visible above the frame
    ax2.set_ylabel("D accuracy (%)")
    if panels == 3:
        axes[2].plot(it[measured], h[measured, 7], "o-", color="tab:purple", ms=3)
        axes[2].set_ylabel("--eval-every Parzen LL (nats)")
    axes[-1].set_xlabel("iteration" + (f" (moving mean over {window})" if window > 1 else ""))
    # Fixed margins: tight_layout measured every label and was a third of the
    # plot's time, at every checkpoint.
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.5 / (3 * panels), top=1 - 0.15 / (3 * panels), hspace=0.12)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


class BadFile(Exception):
    """A file that is not what it should be; str() says why."""


def file_problem(path):
    """Why `path` cannot be an .npz file to read (missing, a folder, a pipe...), or None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return "is a folder; give the .npz file itself"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a pipe or a device); give an .npz file"
    return None


def read_npz(path, only=None):
    """The arrays of an .npz file (or only those named), each member's header
    checked against the member's real size before anything is read, so a file
    that claims a billion digits, holds pickles or is not an archive fails
    here, saying why."""
    bad = BadFile
    problem = file_problem(path)
    if problem:
        raise bad(problem)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            # a member may declare far more than the archive holds (a "zip bomb"): refuse
            # what could not fit in memory before unpacking any of it
            wanted = [i for i in zf.infolist() if only is None or i.filename[:-4] in only]
            for i in wanted:  # deflate unpacks at most ~1,030 bytes per byte; a stored member, 1
                if i.file_size > (i.compress_size if i.compress_type == zipfile.ZIP_STORED
                                  else 1100 * i.compress_size + 1024):
                    raise bad(f"member {i.filename!r} declares {mb(i.file_size)} unpacked from "
                              f"{i.compress_size:,} bytes, more than zip can give; the archive is damaged")
            declared, free = sum(i.file_size for i in wanted), available_memory()
            if declared > free:
                raise bad(f"its arrays declare {mb(declared)} unpacked, more than the {mb(free)} of free "
                          "memory; it is not a file of this program")
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise bad(f"member {info.filename!r} is not an array")
                try:
                    with zf.open(info) as member:
                        version = np.lib.format.read_magic(member)
                        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0)
                        shape, fortran, dtype = read_header(member)
                        header_end = member.tell()
                except (ValueError, EOFError, SyntaxError, TypeError):
                    raise bad(f"member {info.filename!r} is not an array") from None
                if dtype.hasobject:
                    raise bad(f"member {info.filename!r} holds Python objects, not numbers")
                if header_end + math.prod(shape) * dtype.itemsize != info.file_size:
                    raise bad(f"member {info.filename!r} claims shape {shape} but holds "
                              f"{info.file_size - header_end:,} bytes of data")
                if only is None or info.filename[:-4] in only:
                    with zf.open(info) as member:
                        arrays[info.filename[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
    except BadFile:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            RuntimeError, KeyError):
        raise bad("not a readable .npz archive") from None
    return arrays


def read_checkpoint(path, meta_only=False):
    """(meta, arrays) of a checkpoint, or CheckpointError saying what is wrong with it.
    With meta_only, the arrays' headers are checked but only the metadata is read."""
    try:
        arrays = read_npz(path, only={"meta"} if meta_only else None)
    except BadFile as e:
        raise CheckpointError(str(e)) from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        raise CheckpointError("its metadata is missing or not JSON") from None
    checks = {"arch": lambda v: v in ARCHS, "latent_dim": lambda v: type(v) is int and v > 0,
              "iteration": lambda v: type(v) is int and v >= 0,
              "elapsed": lambda v: type(v) in (int, float) and math.isfinite(v) and v >= 0,
              "best": lambda v: v is None or (isinstance(v, list) and len(v) == 2 and type(v[0]) is int
                                              and type(v[1]) in (int, float) and math.isfinite(v[1]))}
    optional = {"run_id": lambda v: isinstance(v, str) and v, "settings": lambda v: isinstance(v, dict),
                "first_row": lambda v: isinstance(v, list) and len(v) == 5
                and all(type(x) in (int, float) for x in v),  # absent from checkpoints before 2026-11-28
                "collapsed_since": lambda v: v is None or (type(v) is int and v >= 1),  # before 2026-11-30
                "files": lambda v: isinstance(v, dict) and all(  # before 2026-12-01
                    isinstance(k, str) and isinstance(h, str) for k, h in v.items())}
    if not isinstance(meta, dict):
        raise CheckpointError("its metadata is not a record")
    if isinstance(meta.get("arch"), str):
        meta["arch"] = arch_name(meta["arch"])
    for key, ok in checks.items():
        if key not in meta or not ok(meta[key]):
            raise CheckpointError(f"its metadata has no valid {key!r} ({meta.get(key)!r})")
    for key, ok in optional.items():
        if key in meta and not ok(meta[key]):
            raise CheckpointError(f"its metadata has no valid {key!r} ({meta.get(key)!r})")
    return meta, arrays


# -----------------------------------------------------------------------------
# Data

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_mnist(path=None):
    """MNIST as `keras.datasets.mnist.load_data()` returns it: uint8 28x28 digits.

    With `path`, read a local .npz in the layout of Keras's own mnist.npz
    (x_train, y_train, x_test, y_test) and check it, so that a wrong file fails
    here with a clear message rather than deep inside a training step.
    """
    if path is None:
        try:
            return keras.datasets.mnist.load_data()
        except Exception as e:  # get_file wraps every network failure in a bare Exception
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"could not download MNIST ({reason}); "
                             "pass --data FILE with a local copy of Keras's mnist.npz") from None
    try:
        arrays = read_npz(path)
    except BadFile as e:
        raise UsageError(f"--data {path}: {e}") from None
    missing = [k for k in MNIST_KEYS if k not in arrays]
    if missing:
        raise UsageError(f"--data {path}: missing key(s) {', '.join(missing)}; "
                         f"an MNIST .npz holds {', '.join(MNIST_KEYS)}")
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or len(x) == 0:
            raise UsageError(f"--data {path}: x_{split} is {x.dtype} of shape {x.shape}; "
                             "expected uint8 of shape (N, 28, 28) with N > 0")
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise UsageError(f"--data {path}: y_{split} is {y.dtype} of shape {y.shape}; "
                             f"expected integer labels of shape ({len(x)},)")
        if y.min() < 0 or y.max() > 9:
            raise UsageError(f"--data {path}: y_{split} holds labels from {y.min()} to {y.max()}; "
                             "MNIST's labels are the digits 0-9")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def data_digest(mnist):
    """A short sha256 of the arrays themselves: the same digits under another name match."""
    h = hashlib.sha256()
    for a in (a for pair in mnist for a in pair):
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


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


def monitor_digits(x_train, trained_on):
    """The digits --eval-every scores during training: (sigma digits, scored
    digits, what they are). Held-out digits where the model holds some out (the
    authors' split: sigma on 50,000-50,999, scored on 51,000-52,999), never the
    test digits, so a checkpoint chosen on them has not seen the test set."""
    n = len(x_train)
    to01 = lambda a: a.astype(np.float32) / 255.0
    if n - trained_on >= 2:
        a = trained_on
        b = a + min(1000, (n - a) // 2)
        c = min(n, b + 2000)
        return to01(x_train[a:b]), to01(x_train[b:c]), (
            f"held-out training digits {b:,}-{c - 1:,} (sigma on {a:,}-{b - 1:,}), never trained on")
    k = min(1000, max(1, n // 3))
    m = min(2000, n - k)
    a, b = n - k - m, n - k
    return to01(x_train[b:]), to01(x_train[a:b]), (
        f"training digits {a:,}-{b - 1:,} (sigma on {b:,}-{n - 1:,}), which the model also trains on: "
        "this data holds none out")


def heldout_monitor(x_sigma, x_scored, samples=MONITOR_SAMPLES, seed=0):
    """monitor(gan) for GAN.train: the Parzen estimate of the scored digits under
    `samples` digits of the generator, sigma chosen on x_sigma, the same noise each time."""
    def monitor(gan):
        return parzen_evaluate(generate(gan, samples, seed), x_sigma, x_scored)
    return monitor


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
CLASSIFIER_RECIPE = "conv32-pool-conv64-pool-drop0.3-dense128-dense10 adam batch=128 epochs={} seed=0"
# The classifier of the full MNIST, trained by this recipe and shipped, so the
# first `evaluate` on that data needs no training: pretrained/README.md says how
# it was made. Found by the key of the data it judges, checked by its sha256.
SHIPPED_CLASSIFIER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained",
                                  "mnist-classifier.weights.h5")
SHIPPED_CLASSIFIER_KEY = "01670338e5ac5446"  # classifier_key() of the full MNIST's 60,000 training digits
SHIPPED_CLASSIFIER_SHA256 = "8f1192ba4658b6edc1a8fc358a0802dd6d80440d2867e11e996c392c9c37ff85"


def classifier_key(x_train, y_train, epochs=CLASSIFIER_EPOCHS):
    """The classifier's identity: its training digits, their labels and the recipe."""
    recipe = CLASSIFIER_RECIPE.format(epochs).encode()
    return hashlib.sha256(x_train.tobytes() + np.asarray(y_train, np.int64).tobytes() + recipe).hexdigest()[:16]


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shipped_classifier(key):
    """The shipped classifier if `key` is the data it was trained on and the file
    is the one shipped; else None (and a line saying why, if the file is not)."""
    if key != SHIPPED_CLASSIFIER_KEY:
        return None
    where = os.path.relpath(SHIPPED_CLASSIFIER)
    try:
        whole = file_sha256(SHIPPED_CLASSIFIER) == SHIPPED_CLASSIFIER_SHA256
    except OSError as e:
        whole, why = False, f"cannot be read: {e.strerror or e}"
    else:
        why = "is not the shipped file (its sha256 differs)"
    if not whole:
        print(one_line(f"gan_2014: the shipped classifier {where} {why}; training one instead"), flush=True)
        return None
    model = build_classifier()
    model.load_weights(SHIPPED_CLASSIFIER)
    return model


def load_or_train_classifier(x_train, y_train, x_test, y_test, cache_dir, epochs=CLASSIFIER_EPOCHS):
    """The classifier for this data: the shipped one for the full MNIST; else
    trained once and cached under a key made from the data and the recipe, so
    another file (or recipe) trains its own. Returns (model, test accuracy, where
    it came from)."""
    key = classifier_key(x_train, y_train, epochs)
    path = os.path.join(cache_dir, f"classifier-{key}.keras")
    x01_test = (x_test.astype(np.float32) / 255.0)[..., None]
    accuracy = lambda m: float(np.mean(np.argmax(m.predict(x01_test, verbose=0), 1) == y_test))
    model = shipped_classifier(key)  # the key holds the recipe: another recipe trains its own
    if model is not None:
        return model, accuracy(model), f"shipped in {os.path.relpath(SHIPPED_CLASSIFIER)}, trained on this x_train"
    if os.path.exists(path):
        try:
            model = keras.saving.load_model(path)
        except Exception:
            model = None  # a damaged cache entry is retrained, not trusted
        if model is not None:
            return model, accuracy(model), f"trained on x_train, cached in {path}"
    # 49-85 s an epoch of 60,000 digits, measured on 2 CPU cores that a training shared
    low, high = (len(x_train) * epochs / 60000 * s / 60 for s in (49, 85))
    took = "under a minute" if high < 1 else f"about {max(1, round(low))}-{max(1, round(high))} min"
    print(f"gan_2014: training a small MNIST classifier for the classifier figures ({epochs} epochs on "
          f"{len(x_train):,} digits, {took} on 2 CPU cores); this happens once for this data "
          f"(only the full MNIST has a shipped one): it is cached in {path}", flush=True)
    keras.utils.set_random_seed(0)
    model = build_classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit((x_train.astype(np.float32) / 255.0)[..., None], np.asarray(y_train, np.int64),
              batch_size=128, epochs=epochs, verbose=1 if sys.stdout.isatty() else 2)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        atomic_write(path, model.save)
    except (OSError, WriteError) as e:
        print(f"gan_2014: could not cache the classifier in {cache_dir} ({e})", file=sys.stderr)
    return model, accuracy(model), "trained on x_train"


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


def generate(gan, n, seed, batch=1000):
    """n samples in [0, 1] from the generator (inference-mode BatchNorm), as (n, 28, 28)."""
    z = gan.host_noise(np.random.default_rng(seed), n)
    out = [gan.generator(z[i:i + batch], training=False).numpy() for i in range(0, n, batch)]
    return gan.to_unit(np.concatenate(out))[..., 0]


def kind_of(path):
    """'missing', 'folder', 'file' (regular, through links) or 'other' (a pipe, a device, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "other" if os.path.islink(path) else "missing"  # a dangling link is not nothing
    except OSError:
        return "other"
    return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


WEIGHTS_WANTED = "pass a run folder, a best/ folder or a generator weights file (.weights.h5)"


def h5_layout(path):
    """{dataset path: shape} of every array in an HDF5 file, read without TensorFlow."""
    import h5py  # comes with Keras
    layout = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: layout.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset)
                     else None)
    return layout


def describe_generator(weights):
    """What a --weights PATH holds, read without TensorFlow: (kind, path, arch,
    latent_dim). A run folder gives its last checkpoint (so an interrupted run
    works); a folder or file with generator.weights.h5 gives that file, whose
    first layer's shape tells the architecture and the latent size (every other
    layer is checked when the model is built, in load_generator)."""
    kind = kind_of(weights)
    if kind == "folder":
        checkpoint = os.path.join(weights, CHECKPOINT)
        if kind_of(checkpoint) == "file":
            try:
                meta, _ = read_checkpoint(checkpoint, meta_only=True)
            except CheckpointError as e:
                raise UsageError(f"--weights {weights}: its {CHECKPOINT} is not usable ({e})") from None
            if meta.get("collapsed_since") is not None:
                print(one_line(collapse_note(checkpoint, meta["collapsed_since"])), flush=True)
            return "checkpoint", checkpoint, meta["arch"], meta["latent_dim"]
        path = os.path.join(weights, "generator.weights.h5")
        if kind_of(path) != "file":
            try:
                names = os.listdir(weights)
            except OSError:
                names = []
            held = sorted(n for n in names if n.endswith(".weights.h5")
                          and generator_layout(os.path.join(weights, n)) is not None)
            raise UsageError(f"--weights {weights}: no {CHECKPOINT} or generator weights at {path}; "
                             + (f"it holds the generator file(s) {', '.join(held)}: pass one, as --weights "
                                f"{os.path.join(weights, held[0])}" if held else WEIGHTS_WANTED))
    elif kind == "file":
        path = weights
    elif kind == "missing":
        raise UsageError(f"--weights {weights}: no such file or folder; " + WEIGHTS_WANTED)
    else:
        raise UsageError(f"--weights {weights}: not a regular file (a pipe, a device or a broken link); "
                         + WEIGHTS_WANTED)
    layout = generator_layout(path)
    if layout is None:
        raise UsageError(f"--weights {path}: not a generator weights file of gan_2014 "
                         "(expected a generator.weights.h5 that training wrote)")
    if not recorded_by_its_run(path):
        print(one_line(f"gan_2014: note: {path} is not the file its run's checkpoint recorded (another run's, "
                       "or an older copy of its own); what follows is about this file, not that run"), flush=True)
    return ("weights", path, *layout)


def recorded_by_its_run(path):
    """False when `path` sits where a run keeps its weights (run/ or run/best/) and
    that run's checkpoint recorded another file there (RunFolder's record)."""
    folder, name = os.path.split(os.path.abspath(path))
    run_dir, key = (os.path.dirname(folder), f"best/{name}") if os.path.basename(folder) == "best" else (folder, name)
    try:
        files = read_checkpoint(os.path.join(run_dir, CHECKPOINT), meta_only=True)[0].get("files")
    except CheckpointError:
        return True  # no run's checkpoint there: nothing to compare with
    return files is None or key not in files or files[key] == file_sha256(path)


def generator_layout(path):
    """(arch, latent_dim) of a generator weights file, told by its first layer's
    shape, or None for any other file."""
    try:
        kernel = h5_layout(path)["layers/dense/vars/0"]  # the first Dense layer: (latent_dim, units)
    except Exception:
        return None
    units = {cls.first_layer: name for name, cls in ARCHS.items()}
    if len(kernel) != 2 or kernel[1] not in units:
        return None
    return units[kernel[1]], int(kernel[0])


def load_generator(found):
    """A model of the right class whose generator holds the weights that
    describe_generator found: every array of the file must be one of this
    generator's, of its shape, whatever the file is called."""
    kind, path, arch, latent_dim = found
    gan = ARCHS[arch](latent_dim=latent_dim, jit_compile=False)
    if kind == "checkpoint":
        try:
            gan.load_checkpoint(path)
        except CheckpointError as e:
            raise UsageError(f"--weights {path}: not usable ({e})") from None
        return gan
    with tempfile.TemporaryDirectory(prefix="gan_2014-") as tmp:
        reference = os.path.join(tmp, "reference.weights.h5")
        gan.generator.save_weights(reference)
        expected, found_layout = h5_layout(reference), h5_layout(path)
        if found_layout != expected:
            odd = sorted(set(found_layout.items()) ^ set(expected.items()))[0][0]
            raise UsageError(f"--weights {path}: its arrays are not those of the {arch} generator with latent "
                             f"size {latent_dim} (first difference: {odd}); it is not a generator that "
                             "gan_2014 wrote")
        # Keras reads a file as weights only under a name ending in .weights.h5
        # (any other .h5 is its legacy format): load ours through such a name.
        link = os.path.join(tmp, "generator.weights.h5")
        os.symlink(os.path.abspath(path), link)
        gan.generator.load_weights(link)
    return gan


# -----------------------------------------------------------------------------
# Command line


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block: the message names the fix
        if message.endswith("expected one argument"):
            message += ("; a value that starts with '-' goes after '=' (--data=-x.npz) or as a "
                        "path (./-x.npz)")
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def path_value(text):
    """A file or folder name: an empty one would silently mean the current folder."""
    if not text:
        raise argparse.ArgumentTypeError("is empty; give a file or folder name")
    return text


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def at_least(low):
    def parse(text):
        value = positive_int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def count_or_zero(text):
    try:
        return 0 if int(text) == 0 else positive_int(text)
    except ValueError:
        return positive_int(text)  # its message


def seed_value(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 4294967295, got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be from 0 to 4294967295 (2**32 - 1), got {value}")
    return value


def random_seed():
    return int.from_bytes(os.urandom(4), "little") >> 1


def available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def require_memory(what, nbytes, fix):
    """Refuse, before trying, a size that cannot fit in this machine's free memory."""
    free = available_memory()
    if nbytes > free:
        raise UsageError(f"{what} needs about {mb(nbytes)} of memory and {mb(free)} is free; {fix}")


TF_BASE = 2 ** 30  # what TensorFlow, Keras and the compiled programs take before any of our arrays


USAGE = """gan_2014.py [--epochs N] [--arch {keras-gan,paper}] [--data FILE] [--seed N] [--resume] ...
       gan_2014.py sample --weights PATH [--n N] [--out FILE] [--seed N] [--nearest | --interpolate K]
       gan_2014.py evaluate --weights PATH [--data FILE] [--samples N]
       gan_2014.py toy [--out FILE.png]"""


def train_parser():
    p = Parser(prog="gan_2014.py", description=(
        "Train the 2014 GAN on MNIST with the defaults of the article's GAN_2014.py (Keras-GAN's "
        "gan/gan.py, the script this one ports). An 'epoch' here is what gan.py calls one: a single "
        "minibatch iteration (discriminator on a real batch, on a fake batch, then the generator), "
        "not a pass over the data."),
        usage=USAGE,
        epilog=("other commands: `python gan_2014.py sample --help` (new digits from a trained "
                "generator; the paper's Figures 2 and 3), `python gan_2014.py evaluate --help` (the "
                "paper's Parzen-window figure and classifier figures) and `python gan_2014.py toy "
                "--help` (the paper's Figure 1 from a 1-D run). With --resume, the run's own settings are read "
                "from its run.json; only --epochs (to train further), the interval options and "
                "--eval-every may differ."))
    p.add_argument("--epochs", type=positive_int, help=(
        "minibatch iterations to train, gan.py's 'epochs' "
        f"(default {EPOCHS}; 30000 x 32 digits is about 16 passes over 60,000)"))
    p.add_argument("--arch", type=arch_name, choices=list(ARCHS), help=(
        f"the model (default {ARCH}): '{ARCH}' is Keras-GAN's gan.py networks and loop; "
        "'paper' is the authors' released MNIST model (maxout discriminator, uniform noise, SGD with "
        "momentum, one joint update per iteration, training digits 0-49,999 as their mnist.yaml)"))
    p.add_argument("--batch-size", type=positive_int,
                   help=f"real and fake digits per step (default {GAN.batch_size}; "
                        f"{PaperGAN.batch_size} with --arch paper)")
    p.add_argument("--sample-interval", type=positive_int,
                   help=f"save a 5x5 grid every this many iterations, and after the last (default {SAMPLE_INTERVAL})")
    p.add_argument("--latent-dim", type=positive_int,
                   help=f"size of the generator's noise input (default {LATENT_DIM})")
    p.add_argument("--images", metavar="DIR", type=path_value,
                   help=f"folder for the grids <iteration>.png and progress.gif (default {IMAGES}/)")
    p.add_argument("--run-dir", default=RUN_DIR, metavar="DIR", type=path_value, help=(
        f"folder for {SETTINGS}, history.csv, losses.png, {CHECKPOINT}, *.weights.h5 and best/ "
        f"(default {RUN_DIR}/)"))
    p.add_argument("--data", metavar="FILE", type=path_value,
                   help="a local .npz in the layout of Keras's mnist.npz, instead of downloading MNIST")
    p.add_argument("--seed", type=seed_value, help=(
        "random seed, 0 to 2**32-1: weights, minibatches and noise; the same "
        "seed gives the same losses on a CPU (default: drawn at random and printed)"))
    p.add_argument("--log-every", type=positive_int, metavar="N", help=(
        "print gan.py's log line every N iterations, also on a terminal "
        "(default: a progress bar on a terminal, else a line every --sample-interval)"))
    p.add_argument("--checkpoint-interval", type=positive_int, metavar="N",
                   help=f"write {CHECKPOINT} every N iterations and at the end (default {CHECKPOINT_INTERVAL})")
    p.add_argument("--eval-every", type=count_or_zero, metavar="N", help=(
        "every N iterations, the Parzen log-likelihood of held-out digits under "
        f"{MONITOR_SAMPLES:,} samples (history.csv, losses.png); the best generator so far goes to "
        "RUN_DIR/best/ (default 0: never; a few seconds each)"))
    p.add_argument("--g-loss", choices=G_LOSSES, help=(
        f"what the generator minimizes (default {G_LOSS}): 'non-saturating' is -log D(G(z)), gan.py's "
        "labels 1 and the paper's advice (sec. 3); 'minimax' is log(1 - D(G(z))), the value function's "
        "own term, which saturates early in learning"))
    p.add_argument("--d-steps", type=positive_int, metavar="K", help=(
        f"discriminator updates, each on fresh minibatches, per generator update: Algorithm 1's k "
        f"(default {D_STEPS}, as the paper); --arch paper's joint update has only 1"))
    p.add_argument("--resume", action="store_true",
                   help=f"continue the run in --run-dir with the settings in its {SETTINGS}")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run even though --run-dir or --images holds another run's files")
    return p


def flag(key):
    return "--" + key.replace("_", "-")


def options_given(args):
    """The run's settings that the command line names (None: not given)."""
    return {k: getattr(args, k) for k in FIXED + CHANGEABLE if getattr(args, k) is not None}


def new_settings(args):
    """A new run's settings: the options given, gan.py's defaults for the rest."""
    given = options_given(args)
    arch = given.get("arch", ARCH)
    if not ARCHS[arch].separate_d_steps and given.get("d_steps", 1) != 1:
        raise UsageError(f"--d-steps {given['d_steps']}: --arch {arch}'s update is the authors' joint step "
                         "(D and G from one forward pass, AdversaryCost2), with no separate D steps; "
                         "drop --d-steps, or use --arch keras-gan")
    settings = dict(arch=arch, latent_dim=LATENT_DIM, batch_size=ARCHS[arch].batch_size, g_loss=G_LOSS,
                    d_steps=D_STEPS, seed=random_seed(), images=IMAGES, **INTERVALS)
    settings.update(given)
    settings["images"] = os.path.abspath(settings["images"])
    settings["run_id"] = uuid.uuid4().hex
    settings["data"] = None if args.data is None else os.path.abspath(args.data)
    return settings


def check_sizes(settings, model_class, n_train, n_all, data_path):
    """Numbers that only the data and this machine can refuse."""
    if settings["batch_size"] > n_train:
        raise UsageError(f"--batch-size {settings['batch_size']} is larger than the {n_train} "
                         "training digits; pass a smaller --batch-size")
    if settings["eval_every"] and n_all < 2:
        raise UsageError(f"--eval-every needs at least 2 training digits to score (sigma on one, the "
                         f"estimate on another); {data_path} has {n_all}; pass --eval-every 0 or more digits")
    require_memory(f"--latent-dim {settings['latent_dim']}",  # the first layer, its gradient and optimizer slots
                   TF_BASE + 5 * 4 * settings["latent_dim"] * (model_class.first_layer + settings["batch_size"]),
                   "pass a smaller --latent-dim")
    require_memory(f"--batch-size {settings['batch_size']}",  # activations and gradients of the widest layers
                   TF_BASE + 40 * 4 * settings["batch_size"] * 1200,
                   "pass a smaller --batch-size")


def start_line(run, n_train, n_all, held_out, source, monitored):
    settings, start = run.settings, run.restored[0] if run.restored else 0
    resumed = ""
    if run.resume:
        resumed = f", resuming from iteration {start}" if start else ", starting again (no checkpoint yet)"
        if start == settings["epochs"]:
            resumed = f", already at iteration {start}: writing its final weights and GIF"
    return one_line(f"gan_2014: arch {settings['arch']}, trains on {n_train:,} of the {n_all:,} training "
                    f"digits of {source}" + (f" ({held_out})" if held_out else "")
                    + f", seed {settings['seed']}, {settings['epochs']} iterations of batch {settings['batch_size']}"
                    + ("" if settings["g_loss"] == G_LOSS else f", G loss {settings['g_loss']}")
                    + ("" if settings["d_steps"] == D_STEPS else f", {settings['d_steps']} D steps per G step")
                    + (f", held-out estimate every {settings['eval_every']} on {monitored}" if monitored else "")
                    + resumed)


def train_main(argv, context):
    """Parse; check every input; open the run folder (new, resumed or overwritten);
    load the data; build the model; train."""
    args = train_parser().parse_args(argv)
    context["run_dir"] = args.run_dir
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pass one")
    if args.data is not None and (problem := file_problem(args.data)):  # inputs before the folders' state
        raise UsageError(f"--data {args.data}: {problem}")
    settings = None if args.resume else new_settings(args)  # a resumed run's are in its folder
    mnist = None if args.resume else load_mnist(args.data)  # a new run's data is an input too
    run = RunFolder.open(args, context, settings)
    data_path = run.data_path(args.data)
    mnist = mnist or load_mnist(data_path)
    run.check_data(mnist, args.data)
    settings = run.settings
    (x_all, _), _ = mnist
    model_class = ARCHS[settings["arch"]]
    n_train, held_out = model_class.training_digits(len(x_all))
    x_train = x_all[:n_train]
    check_sizes(settings, model_class, n_train, len(x_all), data_path)
    run.check_writes()

    keras.utils.set_random_seed(settings["seed"])  # the weights' initial values
    gan = model_class(latent_dim=settings["latent_dim"], seed=settings["seed"], jit_compile=JIT_COMPILE,
                      pixel_means=x_train.reshape(n_train, -1).mean(0) / 255.0, g_loss=settings["g_loss"],
                      d_steps=settings["d_steps"])
    restored = run.restore(gan)
    monitored = ""
    if settings["eval_every"]:
        x_sigma, x_scored, monitored = monitor_digits(x_all, n_train)
        run.monitor = heldout_monitor(x_sigma, x_scored)
    run.progress = sys.stdout.isatty() and settings["log_every"] is None
    print(start_line(run, n_train, len(x_all), held_out, data_path or "keras.datasets.mnist", monitored), flush=True)
    if model_class is PaperGAN and settings["batch_size"] != PaperGAN.batch_size:
        print(f"gan_2014: note: the authors trained with batch {PaperGAN.batch_size}, and mnist.yaml's learning "
              f"rate and momentum are set for it; batch {settings['batch_size']} is not their model's training",
              flush=True)
    if restored is not None and restored[4] is not None:
        print(one_line(collapse_note(run.path(CHECKPOINT), restored[4])), flush=True)
    t = time.perf_counter()
    gan.train(model_class.from_pixels(x_train), epochs=settings["epochs"], batch_size=settings["batch_size"],
              sample_interval=settings["sample_interval"], run=run)
    print(one_line(f"gan_2014: done in {time.perf_counter() - t:.0f} s; grids in {run.images}/, "
                   f"history, checkpoint and weights in {run.dir}/"), flush=True)


def check_writable_dir(path, option, fix=None):
    """Refuse a folder that cannot be made or written, before anything is created."""
    probe = os.path.abspath(path)
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        why = "is not a folder" if not os.path.isdir(probe) else "is not writable"
        raise UsageError(f"{option} {path}: cannot write there ({probe} {why}); {fix or f'choose another {option}'}")


def ensure_writable_dir(path, option):
    """Create `path` if needed and prove a file can be written there, before any work."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + "write-test-", dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot write there ({e.strerror or e}); "
                         f"choose another {option}") from None


def add_generator_option(p):
    p.add_argument("--weights", required=True, metavar="PATH", type=path_value, help=(
        "a run folder (its last checkpoint, so an interrupted run works too), a best/ folder, "
        "or a generator.weights.h5 file; the architecture and latent size are read from it"))


def sample_main(argv, context):
    p = Parser(prog="gan_2014.py sample", description=(
        "New digits from a trained generator, as a grid or as an array file; with --nearest, each beside "
        "the nearest training digit (the paper's Figure 2); with --interpolate K, rows of K digits from noise "
        "moving in a straight line (the paper's Figure 3)."))
    add_generator_option(p)
    p.add_argument("--n", type=positive_int, default=25,
                   help="how many digits (default 25); with --interpolate, how many rows")
    p.add_argument("--out", default="samples.png", metavar="FILE", type=path_value, help=(
        "FILE.png: a grid; FILE.npz or FILE.npy: the digits as float32 (n, 28, 28) in [0, 1]; with "
        "--interpolate also FILE.gif, an animation (default samples.png)"))
    p.add_argument("--seed", type=seed_value, help="seed of the noise, 0 to 2**32-1: same seed, same digits "
                                                   "(default: random, printed)")
    p.add_argument("--nearest", action="store_true", help=(
        "beside each digit, the nearest training digit (Euclidean distance of the pixels) among those the "
        "model trained on, framed in yellow as in the paper's Figure 2; needs --data (or the download). "
        ".npz: images, nearest, nearest_index (into the file's x_train), distance"))
    p.add_argument("--data", metavar="FILE", type=path_value,
                   help="the MNIST .npz the model trained on, for --nearest (default: download)")
    p.add_argument("--interpolate", type=at_least(2), metavar="K", help=(
        "K digits per row from z moving linearly between two random noise vectors, both included "
        "(the paper's Figure 3). .npz: images (n*K, 28, 28), z (n*K, latent size)"))
    args = p.parse_args(argv)
    ext = os.path.splitext(args.out)[1].lower()
    kinds = (".png", ".npz", ".npy") + ((".gif",) if args.interpolate else ())
    if ext not in kinds:
        raise UsageError(f"--out {args.out}: unknown kind of file; end it in {', '.join(kinds[:-1])} or {kinds[-1]}")
    if args.nearest and args.interpolate:
        raise UsageError("--nearest and --interpolate make different figures; pass one")
    if args.data is not None and not args.nearest:
        raise UsageError("--data is read only with --nearest; drop --data or add --nearest")
    if kind_of(args.out) == "folder":
        raise UsageError(f"--out {args.out}: is a folder; give a file name such as {args.out.rstrip('/')}/samples.png")
    if kind_of(args.out) == "other":
        raise UsageError(f"--out {args.out}: not a regular file (a pipe, a device or a broken link); "
                         "give another file name")
    check_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")  # made only to write into it
    count = args.n * (args.interpolate or 1)
    per_digit = 784 * 4 * 3 + (30 * 30 * 9 * 6 if ext in (".png", ".gif") else 0) + 1200 * 4 * 2
    require_memory(f"--n {args.n}", TF_BASE + count * per_digit * (2 if args.nearest else 1), "pass a smaller --n")
    found = describe_generator(args.weights)  # a wrong path is refused before TensorFlow loads
    x_train = None
    if args.nearest:
        (x_train, _), _ = load_mnist(args.data)
        x_train = x_train[:ARCHS[found[2]].training_digits(len(x_train))[0]]
    gan = load_generator(found)
    seed = args.seed if args.seed is not None else random_seed()
    extra = {}
    if args.interpolate:
        rng = np.random.default_rng(seed)
        ends = gan.host_noise(rng, 2 * args.n).reshape(args.n, 2, gan.latent_dim)
        t = np.linspace(0.0, 1.0, args.interpolate, dtype=np.float32)[None, :, None]
        z = ((1 - t) * ends[:, :1] + t * ends[:, 1:]).reshape(-1, gan.latent_dim).astype(np.float32)
        images = gan.to_unit(gan.generator(z, training=False).numpy())[..., 0]
        extra = {"z": z}
    else:
        images = generate(gan, args.n, seed)
    if args.nearest:
        index, nearest, distance = nearest_digits(images, x_train)
        extra = {"nearest": nearest, "nearest_index": index, "distance": distance.astype(np.float32)}
    ensure_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
    if ext == ".png" and args.nearest:
        pairs = np.stack([images, extra["nearest"]], 1).reshape(-1, 28, 28)  # digit, its neighbour, ...
        img = save_mosaic(pairs, args.out, cols=10, marked=set(range(1, len(pairs), 2)))
        atomic_write(args.out, lambda tmp: img.save(tmp, format="PNG"))
    elif ext == ".png" and args.interpolate:
        img = save_mosaic(images, args.out, cols=args.interpolate)
        atomic_write(args.out, lambda tmp: img.save(tmp, format="PNG"))
    elif ext == ".gif":  # frame j: every row's j-th digit, there and back
        steps = images.reshape(args.n, args.interpolate, 28, 28)
        order = list(range(args.interpolate)) + list(range(args.interpolate - 2, 0, -1))
        cols = int(math.ceil(math.sqrt(args.n)))
        frames = [save_mosaic(steps[:, j], args.out, cols=cols) for j in order]
        atomic_write(args.out, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True,
                                                          append_images=frames[1:], duration=120, loop=0))
    elif ext == ".png":
        save_grid(images[..., None], args.out)
    elif ext == ".npz":
        atomic_write(args.out, lambda tmp: np.savez(tmp, images=images, **extra))
    else:
        atomic_write(args.out, lambda tmp: np.save(tmp, images))
    what = "digit pairs (sample, nearest training digit)" if args.nearest else \
        f"rows of {args.interpolate} interpolated digits" if args.interpolate else "digits"
    print(one_line(f"gan_2014: {args.n} {what} (seed {seed}) written to {args.out}"))
    if args.nearest:
        print(f"gan_2014: distance to the nearest training digit: median {np.median(distance):.2f}, "
              f"min {distance.min():.2f} (pixels in [0, 1])")


def evaluate_main(argv, context):
    p = Parser(prog="gan_2014.py evaluate", description=(
        "Parzen-window log-likelihood of the test digits by the authors' protocol (Goodfellow "
        "et al. 2014, Table 1), and classifier-based quality and mode coverage, for a trained "
        "generator and, as the reference row, for real training digits."))
    add_generator_option(p)
    p.add_argument("--data", metavar="FILE", type=path_value, help="a local MNIST .npz instead of downloading (as for training)")
    p.add_argument("--samples", type=at_least(2), default=10000,
                   help="generator samples for the Parzen windows, at least 2 (default 10000, as the authors)")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the samples' noise (default 0)")
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "gan_2014"),
                   metavar="DIR", type=path_value, help="where the MNIST classifier is cached (default ~/.cache/gan_2014)")
    args = p.parse_args(argv)
    # float64 copies of the samples and the real digits, and a 500 x samples distance block
    require_memory(f"--samples {args.samples}", TF_BASE + args.samples * (784 * 8 * 4 + 500 * 8 * 3),
                   "pass a smaller --samples")
    found = describe_generator(args.weights)  # refuse a wrong path before a download
    (x_train, y_train), (x_test, y_test) = load_mnist(args.data)
    for split, x in (("training", x_train), ("test", x_test)):
        if len(x) < 2:  # sigma is chosen on training digits; the Fréchet distance needs a covariance
            raise UsageError(f"--data {args.data}: evaluate needs at least 2 {split} digits, this file has "
                             f"{len(x)}; pass a larger MNIST file")
    gan = load_generator(found)
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
    # The paper's figure first, as soon as it is computed: the classifier may have to train.
    samples = generate(gan, args.samples, args.seed)
    name = f"generator ({args.samples:,} samples)"
    ll, se, sigma = parzen_evaluate(samples, x_valid, x_test01)
    print(f"Parzen window: the {len(x_test):,} test digits' mean log-likelihood ± standard error; "
          f"sigma chosen from numpy.logspace(-1, 0, 10) on {which}.")
    print(f"{name}: Parzen LL {ll:.1f} ± {se:.1f} (sigma {sigma:.3f}), "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)

    classifier, accuracy, where = load_or_train_classifier(x_train, y_train, x_test, y_test, args.cache)
    judge = keras.Model(classifier.inputs, [classifier.get_layer("features").output, classifier.outputs[0]])
    test_figures = classifier_figures(judge, x_test01)
    test_features = test_figures["features"].astype(np.float64)
    rows = [(name, ll, se, sigma, classifier_figures(judge, samples, test_features))]
    real = to01(x_train[:args.samples])
    rows.append((f"real training digits (first {min(args.samples, n):,})", *parzen_evaluate(real, x_valid, x_test01),
                 classifier_figures(judge, real, test_features)))
    seconds = time.perf_counter() - t0

    print(f"\nClassifier: a small convnet, {where} ({100 * accuracy:.2f}% test accuracy); "
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
    width = max(len(name) for name, *_ in rows)
    print(f"{'class histogram (% of samples):':{width + 2}}  " + " ".join(f"{d:>5}" for d in range(10)))
    for name, *_, f in rows:
        print(f"  {name:{width}}  " + " ".join(f"{100 * h:5.1f}" for h in f["hist"]))
    print(f"  {'test digits':{width}}  " + " ".join(f"{100 * h:5.1f}" for h in test_figures["hist"]))
    print(f"\nevaluate took {seconds:.0f} s")
    return rows


TOY_ITERATIONS = 2000
TOY_MOMENTS = (0.02, 0.1, 1 / 3, 1.0)  # the four panels, as fractions of the run


def toy_figures(x, p_data, p_g, d, d_star):
    """The two numbers each panel is judged by: the mean |D - D*| weighted by
    where the densities have mass, and the total variation between p_g and p_data."""
    dx = x[1] - x[0]
    w = 0.5 * (p_data + p_g)
    ok = np.isfinite(d_star)
    gap = float(np.sum((w * np.abs(d - np.where(ok, d_star, 0)))[ok]) / np.sum(w[ok]))
    tv = float(0.5 * np.sum(np.abs(p_g - p_data)) * dx)
    return gap, tv


def plot_toy(path, x, moments, p_data, p_g, d, d_star):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2), sharey=True)
    for k, ax in enumerate(axes):
        ax.plot(x, p_data[k] / p_data[k].max(), "k:", lw=2, label="p_data (scaled)")
        ax.plot(x, p_g[k] / max(p_g[k].max(), 1e-12), color="tab:green", label="p_g (scaled)")
        ax.plot(x, d[k], "--", color="tab:blue", label="D(x)")
        mass = p_data[k] + p_g[k]  # D* drawn where the densities have mass: elsewhere it is 0/0
        ax.plot(x, np.where(mass > 0.01 * mass.max(), d_star[k], np.nan), color="tab:red", lw=0.8, alpha=0.7,
                label="D*(x) = p_data/(p_data+p_g)")
        gap, tv = toy_figures(x, p_data[k], p_g[k], d[k], d_star[k])
        ax.set_title(f"({'abcd'[k]}) iteration {moments[k]}\n|D-D*| {gap:.3f}, TV(p_g, p_data) {tv:.2f}",
                     fontsize=9)
        ax.set_xlabel("x")
        ax.set_ylim(-0.05, 1.1)
    axes[0].legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def toy_main(argv, context):
    p = Parser(prog="gan_2014.py toy", description=(
        "The paper's Figure 1 from a real run: a 1-D GAN trained with gan.py's loop on p_data = "
        f"N({ToyGAN.data_mean}, {ToyGAN.data_std}^2), and at four moments p_data, p_g, the trained D(x) and "
        "the optimal D*(x) = p_data / (p_data + p_g). Writes FILE.png and FILE.npz."))
    p.add_argument("--out", default="figure1.png", type=path_value, metavar="FILE.png",
                   help="the figure (default figure1.png); the arrays go beside it as FILE.npz")
    p.add_argument("--iterations", type=positive_int, default=TOY_ITERATIONS,
                   help=f"training iterations (default {TOY_ITERATIONS}, about 40 s on 2 CPU cores)")
    p.add_argument("--seed", type=seed_value, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if not args.out.lower().endswith(".png"):
        raise UsageError(f"--out {args.out}: the figure is a PNG; end the name in .png")
    npz = args.out[:-4] + ".npz"
    for path in (args.out, npz):
        if kind_of(path) not in ("missing", "file"):
            raise UsageError(f"--out {args.out}: {path} is not a regular file; give another name")
    check_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
    keras.utils.set_random_seed(args.seed)
    gan = ToyGAN(seed=args.seed, jit_compile=JIT_COMPILE)
    data = np.random.default_rng(args.seed).normal(ToyGAN.data_mean, ToyGAN.data_std, (20000, 1))
    x_train = tf.convert_to_tensor(data.astype(np.float32))
    x = np.linspace(-1.0, 3.0, 400)
    moments = sorted({max(1, round(f * args.iterations)) for f in TOY_MOMENTS})
    curves = {k: [] for k in ("p_data", "p_g", "d", "d_star")}
    for it in range(1, args.iterations + 1):
        gan.train_iteration(x_train, gan.batch_size)
        if it in moments:
            for key, value in zip(curves, gan.densities(x)):
                curves[key].append(value)
    arrays = {k: np.array(v) for k, v in curves.items()}
    ensure_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
    atomic_write(npz, lambda tmp: np.savez(tmp, x=x, iterations=np.array(moments), **arrays))
    plot_toy(args.out, x, moments, **arrays)
    print("moment  iteration  weighted |D - D*|  TV(p_g, p_data)")
    for k, it in enumerate(moments):
        gap, tv = toy_figures(x, *(arrays[key][k] for key in ("p_data", "p_g", "d", "d_star")))
        print(f"  ({'abcd'[k]})  {it:9d}  {gap:17.3f}  {tv:15.3f}")
    print(f"gan_2014: Figure 1 written to {args.out} (arrays in {npz})")




# -----------------------------------------------------------------------------
# The process around the commands: errors, signals, TensorFlow's start-up
# notices, output nobody reads, and main()


class UsageError(Exception):
    """Bad input: one line on stderr naming the problem and the fix, exit status 2."""


class CheckpointError(Exception):
    """A checkpoint that is not a whole checkpoint of this model."""


class Stopped(Exception):
    """Training ended early at `iteration`; `saved_at` is the last whole checkpoint."""

    def __init__(self, reason, iteration, saved_at, code):
        super().__init__(reason)
        self.iteration, self.saved_at, self.code = iteration, saved_at, code


class WriteError(Exception):
    """A file could not be written (a full disk, a read-only folder...)."""

    def __init__(self, path, reason, needs=None):
        super().__init__(f"could not write {path} ({reason})"
                         + (f"; it needs about {mb(needs)}" if needs else ""))


PENDING = set()  # temporary files of atomic writes under way: a signal that leaves at once removes them
STDERR = [2]      # where the user's stderr is now (without_startup_notices moves it while TensorFlow loads)
SIGNAL_NAMES = {signal.SIGHUP: "SIGHUP", signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def leave_at_once(signum, frame=None, note=""):
    """A signal outside the training loop (starting, loading, evaluating, sampling):
    nothing is half-done there that a checkpoint could save, so leave now, in one
    line, after removing the temporary file of a write under way. Raising
    KeyboardInterrupt instead can be swallowed ("Exception ignored in ...") or
    escape as a traceback, depending on where it lands."""
    for tmp in list(PENDING):
        try:
            os.remove(tmp)
        except OSError:
            pass
    name = SIGNAL_NAMES.get(signum, f"signal {signum}")
    message = f"gan_2014.py: stopped by {name}; files already written are whole{note}\n"
    try:
        os.write(STDERR[-1], message.encode(errors="replace"))
    except OSError:
        pass
    os._exit(128 + signum)




class LazyModule:
    """A module imported on first use. TensorFlow takes seconds to import, so
    `--help` and bad input are answered before it loads."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if "tensorflow" not in sys.modules:
            import_tensorflow_quietly()
        return getattr(importlib.import_module(self._name), attr)


# TensorFlow's C++ start-up notices: absl's "before InitializeLog" warning, the
# CUDA probe that fails on every CPU machine (cuInit, cuda drivers), oneDNN and
# CPU-feature notes. They are written to file descriptor 2 from C++ before any
# setting applies (TF_CPP_MIN_LOG_LEVEL does not stop the absl ones), so they
# can only be kept off the terminal by catching that descriptor while they come.
STARTUP_NOTICE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (cudart_stub|cuda_\w+|port|cpu_feature_guard|cpu_utils|gpu_device)\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow")


@contextlib.contextmanager
def without_startup_notices():
    """Catch file descriptor 2 (C++ writes there directly) for the duration;
    then show every caught line that is not a start-up notice, so a real error
    or warning still reaches the user, in order."""
    sys.stderr.flush()
    saved = os.dup(2)
    caught = tempfile.TemporaryFile()
    STDERR.append(saved)
    try:
        os.dup2(caught.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        STDERR.remove(saved)
        os.close(saved)
        caught.seek(0)
        for line in caught.read().decode(errors="replace").splitlines(keepends=True):
            if not STARTUP_NOTICE.match(line):
                sys.stderr.write(line)
        sys.stderr.flush()
        caught.close()


def import_tensorflow_quietly():
    """Import TensorFlow and let it probe its devices (where the cuInit notice comes from)."""
    with without_startup_notices():
        import tensorflow
        tensorflow.config.list_physical_devices()


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's INFO and WARNING logs after start-up
tf, keras, layers = LazyModule("tensorflow"), LazyModule("keras"), LazyModule("keras.layers")


def last_checkpoint_note(context):
    """'the last checkpoint, iteration N, is in run/checkpoint.npz' when there is one."""
    run_dir = context.get("run_dir")
    if run_dir is None:
        return ""
    path = os.path.join(run_dir, CHECKPOINT)
    try:
        iteration = read_checkpoint(path, meta_only=True)[0]["iteration"]
    except CheckpointError:
        return f"; {path} is not a whole checkpoint" if os.path.exists(path) else "; no checkpoint was written yet"
    return f"; the last checkpoint, iteration {iteration}, is whole in {path}"


def crash_log(context):
    """Keep the traceback where a user can find it and send it: the run folder, else the temp folder."""
    text = f"gan_2014.py {' '.join(sys.argv[1:])}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n{traceback.format_exc()}"
    for folder in (context.get("run_dir"), tempfile.gettempdir()):
        if folder and os.path.isdir(folder):
            path = os.path.join(folder, "crash.log" if folder == context.get("run_dir") else "gan_2014-crash.log")
            try:
                with open(path, "w") as f:
                    f.write(text)
                return path
            except OSError:
                continue
    return None


class QuietStream:
    """stdout or stderr that nobody may be reading any more (`| head -2`, a closed
    terminal, `>&-`): a failed write silences the stream instead of stopping the
    run, and the stream's file descriptor goes to /dev/null so that Python's own
    flush at exit fails no more."""

    def __init__(self, stream):
        self.stream, self.dead = stream, stream is None

    def _call(self, method, *args):
        if not self.dead:
            try:
                return getattr(self.stream, method)(*args)
            except (OSError, ValueError):  # EPIPE, EBADF, EIO; ValueError: a closed file
                self.dead = True
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    null = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(null, self.stream.fileno())
                    os.close(null)
        return None

    def write(self, text):
        self._call("write", text)
        return len(text)

    def flush(self):
        self._call("flush")

    def isatty(self):
        return bool(self._call("isatty"))

    def __getattr__(self, name):  # encoding, fileno...: the stream's own
        return getattr(self.stream, name)


def one_line(text):
    """Control characters (a newline in a file name) written as escapes: a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class FolderGone(Exception):
    """The run's folder was removed or replaced while it trained: another run may own the path now."""


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum):
        super().__init__()
        self.signum = signum


COMMANDS = {"train": train_main, "sample": sample_main, "evaluate": evaluate_main, "toy": toy_main}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    context = {}
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (s if isinstance(s, QuietStream) else QuietStream(s) for s in streams)

    # Outside the training loop a signal leaves at once (training's loop takes
    # SIGINT, SIGTERM and SIGHUP over to finish its iteration and checkpoint).
    leave = lambda signum, frame: leave_at_once(signum, note=last_checkpoint_note(context))
    previous = {s: signal.signal(s, leave) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    code, message = 0, None
    try:
        COMMANDS[command](argv, context)
    except UsageError as e:
        code, message = 2, f"error: {e}"
    except FolderInUse as e:
        code, message = 2, f"error: {e}; wait for it to finish, or pass another --run-dir/--images"
    except CheckpointError as e:
        code, message = 2, (f"error: {os.path.join(context.get('run_dir', ''), CHECKPOINT)}: {e}; start a new "
                            "run with --overwrite or another --run-dir")
    except FolderGone as e:
        code, message = 1, f"{e}"
    except Stopped as e:
        path = os.path.join(context.get("run_dir", RUN_DIR), CHECKPOINT)
        if e.code == 1:
            message = f"{e}" + last_checkpoint_note(context)
        else:
            message = (f"{e} after iteration {e.iteration}; checkpoint saved in {path}; "
                       "continue with --resume (and the same --run-dir)")
        code = e.code
    except WriteError as e:
        code, message = 1, f"{e}; free some space or choose another folder" + last_checkpoint_note(context)
    except KeyboardInterrupt as e:
        code = 128 + getattr(e, "signum", signal.SIGINT)
        message = "interrupted; files already written are whole" + last_checkpoint_note(context)
    except MemoryError:
        code, message = 1, "ran out of memory; try a smaller --batch-size, --n or --samples" \
            + last_checkpoint_note(context)
    except Exception as e:
        log = crash_log(context)
        first = (str(e).strip().splitlines() or [""])[0][:200]
        code, message = 1, (f"unexpected error: {type(e).__name__}: {first}"
                            + last_checkpoint_note(context)
                            + (f"; the details are in {log} (please send it with a bug report)" if log else ""))
    finally:
        WRITE_GUARDS.clear()
        for lock in reversed(context.get("locks", [])):
            unlock_folder(lock)
    if message is not None:
        print(f"gan_2014.py: {one_line(message)}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    for s, handler in previous.items():
        signal.signal(s, handler)
    sys.stdout, sys.stderr = streams
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
