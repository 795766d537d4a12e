#!/usr/bin/env python3
"""Generative Adversarial Nets (Goodfellow et al., 2014) on MNIST, in Keras 3.

A faithful port of the article's `GAN_2014.py` (Keras-GAN's `gan/gan.py`, 2018)
that really trains on today's Keras 3, on TensorFlow, JAX or PyTorch: the same MLP generator and
discriminator, the same three `train_on_batch` steps per iteration, the same
defaults. Beside it, `--arch paper`: the authors' own MNIST model
(goodfeli/adversarial, mnist.yaml), a subclass with its own networks and update.

    python gan_2014.py                        # train with gan.py's defaults
    python gan_2014.py --data mnist.npz       # offline: a local copy of Keras's mnist.npz
    python gan_2014.py --resume               # continue the run in run/ (its settings are in run/run.json)
    python gan_2014.py sample --weights run   # new digits from a run, finished or interrupted
    python gan_2014.py evaluate --weights run --data mnist.npz   # the paper's Table 1 yardstick
    python gan_2014.py --help                 # every option (also: sample --help, evaluate --help)

This file is the GAN, read top to bottom: the settings; Keras-GAN's GAN (its
networks, one iteration, the training loop); the authors' model; Figure 1's
1-D model; main. docs/keras3.md maps gan.py's lines to this file's. The tool
it stands on is the package beside it, gan_2014_utils/:
    run_folder.py  a run's folders checked before anything is written (RunFolder), its settings,
                   the checkpoint's format; recorder.py: every file a training writes (Recorder)
    events.py      TensorBoard's event files (the losses, the grids, the settings), without TensorFlow
    files.py       whole (atomic) writes, locks, kinds of path, checked .npz reading
    history.py     history.csv, losses.png, the collapse watch
    pictures.py    the grids, mosaics and progress.gif
    data.py        MNIST from Keras or a local .npz, checked; held-out digits
    evaluation.py  Parzen windows, nearest digits, the classifier figures
    generators.py  a trained generator from what --weights names
    train.py       the training command; options.py: the parser and its kinds of value
    commands.py    sample, evaluate, toy, and main's dispatch with its one-line errors
    backend.py     what differs by Keras backend (TensorFlow, JAX, PyTorch): one compiled step, gradients
    process.py     errors, signals, TensorFlow's start-up notices; startup.py: the first lines
"""
from gan_2014_utils import startup
if __name__ == "__main__":
    startup.protect()  # from here on a closed stream gets /dev/null and a signal leaves in one line

import math
import os

import numpy as np

from gan_2014_utils import backend, commands, process, train
from gan_2014_utils.pictures import save_grid
from gan_2014_utils.recorder import Recorder
from gan_2014_utils.run_folder import RunFolder, network_variables, optimizer_variables

# Keras (and its backend: TensorFlow, JAX or PyTorch, as KERAS_BACKEND says)
# takes seconds to import: these load on first use, so that --help and bad
# input are answered at once.
keras, layers, ops = process.lazy("keras"), process.lazy("keras.layers"), process.lazy("keras.ops")


# -----------------------------------------------------------------------------
# Settings: gan.py's defaults. The command line overrides each of those that
# main() hands to it (--help); Adam's two and the log line are gan.py's, fixed.
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

    arch = "keras-gan"       # its --arch name, kept in run.json and checkpoints
    batch_size = BATCH_SIZE
    first_layer = 256        # the generator's first Dense layer: a weights file's shape tells the model by it
    img_shape = (28, 28, 1)  # gan.py's img_rows, img_cols, channels: MNIST's; other data gives its own
    learning_rate = LEARNING_RATE
    separate_d_steps = True  # D and G are updated one after the other: --d-steps may repeat D's
    logged = {}              # what TensorBoard plots beside the losses (the authors' model: its schedule)

    def __init__(self, latent_dim=LATENT_DIM, seed=None, jit_compile=True, g_loss=G_LOSS, d_steps=D_STEPS,
                 train_on_batch=False, img_shape=None):
        self.latent_dim, self.seed, self.g_loss, self.d_steps = latent_dim, seed, g_loss, d_steps
        self.img_shape = tuple(img_shape or self.img_shape)  # (rows, cols, channels) of the images
        self.train_on_batch = train_on_batch  # each iteration as gan.py's three literal calls (the reference)
        jit_compile = backend.jit(jit_compile)  # XLA on TensorFlow and JAX; eager on torch
        self.build_models(jit_compile)
        # All per-iteration randomness (minibatch indices, noise) comes from this
        # one stateful generator, on the device, so it is checkpointed with the run.
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Each form of the iteration as one compiled call (tf.function, jax.jit, or eager torch).
        state = self.all_variables()
        self._draw = backend.compiled(self._draw_batch, state, jit_compile)
        self._three_steps = backend.compiled(self.three_steps, state, jit_compile)
        self._labels = {}

    def build_models(self, jit_compile):
        """gan.py's __init__: build and compile the discriminator, the generator, and the combined model."""
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
        z = keras.Input(shape=(self.latent_dim,))
        self.combined = keras.Model(z, self.discriminator(self.generator(z)), name="combined")
        # Labels 1 with binary cross-entropy is -log D(G(z)), the non-saturating
        # loss; --g-loss minimax trains on the value function's own log(1 - D(G(z))).
        self.combined.compile(loss="binary_crossentropy" if self.g_loss == "non-saturating"
                              else lambda y, d: keras.ops.mean(generator_objective("minimax", d), axis=-1),
                              optimizer=keras.optimizers.Adam(self.learning_rate, beta_1=BETA_1),
                              jit_compile=jit_compile)

        # Build both optimizers now, so a checkpoint can restore their state
        # before the first step; and D's accuracy metric, so that the compiled
        # iteration, which creates no variable, is traced once.
        self.discriminator.trainable = True
        self.discriminator.optimizer.build(self.discriminator.trainable_variables)
        self.combined.optimizer.build(self.generator.trainable_variables)
        self.discriminator.trainable = False
        self.discriminator.compute_metrics(None, keras.ops.zeros((1, 1)), keras.ops.zeros((1, 1)))
        self.discriminator.reset_metrics()

    def all_variables(self):
        """Every variable an iteration reads or writes: networks, optimizers, metrics, the random stream."""
        models = (self.discriminator, self.generator, self.combined)
        return ([v for m in models for v in m.variables] + [v for m in models for v in m.metrics_variables]
                + [v for m in models if getattr(m, "optimizer", None) is not None for v in m.optimizer.variables]
                + [self.seed_generator.state])

    def build_generator(self):
        """100 -> 256 -> 512 -> 1024 -> 784 (tanh), LeakyReLU 0.2 then BatchNorm 0.8
        (784 = 28 x 28 x 1: the output follows img_shape)."""
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
        """uint8 images (n, rows, cols[, channels]) -> float32 (n, rows, cols, channels) in
        [-1, 1], the generator's tanh range."""
        return (x.astype(np.float32) / 127.5 - 1.0).reshape(*x.shape[:3], -1)

    @staticmethod
    def to_unit(images):
        """Generator output -> pixels in [0, 1]."""
        return 0.5 * images + 0.5

    @classmethod
    def training_digits(cls, n):
        """How many of n training digits it trains on, and what it holds out: gan.py uses all."""
        return n, ""

    @classmethod
    def options_for_data(cls, x_train):
        """Constructor options that depend on the training images: their shape (gan.py's img_shape)."""
        return {"img_shape": x_train.shape[1:3] + (x_train.shape[3] if x_train.ndim == 4 else 1,)}

    # --- one iteration ---

    def _draw_batch(self, x_train, batch_size):
        """A minibatch of real digits (with replacement, as gan.py's randint), the
        generator's fakes, and fresh noise for the generator's step: one compiled call."""
        idx = keras.random.randint((batch_size,), 0, ops.shape(x_train)[0], seed=self.seed_generator)
        # training=False is what gan.py's generator.predict() did: BatchNorm
        # uses its moving statistics for the discriminator's fake batch.
        gen_imgs = self.generator(self.noise(batch_size), training=False)
        return ops.take(x_train, idx, axis=0), gen_imgs, self.noise(batch_size)

    def labels(self, batch_size):
        if batch_size not in self._labels:
            self._labels[batch_size] = (ops.ones((batch_size, 1)), ops.zeros((batch_size, 1)))
        return self._labels[batch_size]

    def train_iteration(self, x_train, batch_size):
        """One of gan.py's "epochs": D on real, D on fake, G through the frozen D.
        Returns ([d_loss_real, d_acc_real], [d_loss_fake, d_acc_fake], g_loss)
        (D's: its last step's). The three steps run as one compiled call of the
        models' own Keras train steps (`three_steps`), or, with --train-on-batch,
        as gan.py's three train_on_batch calls: the same updates, without the
        Python that train_on_batch spends around each step (about half the time)."""
        if self.train_on_batch:
            return self.train_on_batch_iteration(x_train, batch_size)
        r_loss, r_acc, f_loss, f_acc, g_loss = ops.convert_to_numpy(self._three_steps(x_train, batch_size)).tolist()
        return [r_loss, r_acc], [f_loss, f_acc], g_loss

    def three_steps(self, x_train, batch_size):
        """gan.py's iteration, traced once into one compiled call: each of its
        train_on_batch calls is the model's own train_step on fresh metrics."""
        valid, fake = ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))

        # ---- (1) Update D: maximize log D(x) + log(1 - D(G(z))), k times (Algorithm 1).
        #      As gan.py: two Adam steps, on the real half then on the fake half, where
        #      Algorithm 1 takes one ascent step on their sum ----
        self.discriminator.trainable = True
        for _ in range(self.d_steps):  # each on fresh real and fake minibatches
            imgs, gen_imgs, noise = self._draw_batch(x_train, batch_size)
            d_loss_real = backend.train_step(self.discriminator, imgs, valid)  # train_on_batch's own step
            d_loss_fake = backend.train_step(self.discriminator, gen_imgs, fake)

        # ---- (2) Update G: maximize log D(G(z)), or with --g-loss minimax minimize log(1 - D(G(z))) ----
        self.discriminator.trainable = False
        g_loss = backend.train_step(self.combined, noise, valid)
        return ops.stack([d_loss_real["loss"], d_loss_real["accuracy"], d_loss_fake["loss"],
                          d_loss_fake["accuracy"], g_loss["loss"]])

    def train_on_batch_iteration(self, x_train, batch_size):
        """gan.py's iteration as it is written: three train_on_batch calls (--train-on-batch)."""
        valid, fake = self.labels(batch_size)

        # ---- (1) Update D: maximize log D(x) + log(1 - D(G(z))), k times (Algorithm 1),
        #      in two Adam steps, on the real half then on the fake half ----
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

    def train(self, x_train, epochs=EPOCHS, batch_size=None, sample_interval=SAMPLE_INTERVAL, run=None):
        """gan.py's train: `epochs` iterations (gan.py's word) on digits already in
        the model's range (`from_pixels`), gan.py's log line, a grid every
        `sample_interval`. Everything the run writes (history.csv, grids,
        checkpoints, best/, the final weights, TensorBoard's events) goes through
        `run`, a RunFolder (default: run/ and images/), which also continues the
        checkpoint it was given. Returns the history's rows. Raises Stopped on a
        signal (after a checkpoint) or on non-finite numbers."""
        run = run or RunFolder(RUN_DIR, IMAGES, dict(checkpoint_interval=CHECKPOINT_INTERVAL))
        batch_size = batch_size or self.batch_size
        x_train = ops.convert_to_tensor(x_train, "float32")  # once: on the device for the run
        with Recorder(run, self, epochs) as record:  # every file of the run, from here to the end
            for it in range(record.start + 1, epochs + 1):
                # ---- one of gan.py's "epochs": D on real, D on fake, G through the frozen D ----
                d_loss_real, d_loss_fake, g_loss = self.train_iteration(x_train, batch_size)
                d_loss = 0.5 * np.add(d_loss_real, d_loss_fake)

                # ---- gan.py's log line (a progress bar on a terminal); ours: history.csv,
                #      TensorBoard's events, the held-out estimate, the collapse watch ----
                record.record(self, it, d_loss_real, d_loss_fake, d_loss, g_loss)
                if record.log_due(it, sample_interval):
                    print(LOG_LINE % (it, d_loss[0], 100 * d_loss[1], g_loss), flush=True)

                # ---- gan.py's grids: the same 25 noise vectors every time ----
                if it % sample_interval == 0 or it == epochs:
                    record.add_grid(it, self.sample_images(it, run.images, record.fixed_noise))

                # ---- ours: a checkpoint to resume from; a signal stops here, after one ----
                if record.checkpoint_due(it):
                    record.save_checkpoint(self, it)
        record.finish(self)  # the final weights, the GIF, the last checkpoint
        return record.history

    def sample_images(self, iteration, folder, noise):
        """Save <folder>/<iteration>.png, a 5x5 grid of the generator's digits for
        `noise` (the run's fixed 25 points), as pixels in [0, 1]; returns its path."""
        gen_imgs = self.to_unit(ops.convert_to_numpy(self.generator(noise, training=False)))
        path = os.path.join(folder, f"{iteration}.png")
        save_grid(gen_imgs, path)
        return path

    # --- skip on a first read: what a checkpoint holds (its format is the run folder's) ---

    def weight_variables(self):
        return network_variables(self.generator, self.discriminator)

    def state_variables(self):
        """Every variable training changes: weights, both Adams' slots, the random stream."""
        weights = self.weight_variables()
        return {**weights, **optimizer_variables("d_adam", self.discriminator.optimizer, weights),
                **optimizer_variables("g_adam", self.combined.optimizer, weights), "rng": self.seed_generator.state}

    def load_state(self, arrays):
        """Set every variable of state_variables() from `arrays` (checked beforehand by the run folder)."""
        for key, v in self.state_variables().items():
            v.assign(arrays[key])


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

    arch = "paper"
    batch_size = 100
    first_layer = 1200
    separate_d_steps = False  # one joint update of both networks: --d-steps must stay 1
    learning_rate, decay, min_lr = 0.1, 1.000004, 1e-6   # ExponentialDecay
    momentum_start, momentum_end, saturate = 0.5, 0.7, 250   # MomentumAdjustor (epochs)
    train_on = 50000      # the yaml's dataset: training digits 0-49,999 (start: 0, stop: 50000)

    def __init__(self, latent_dim=LATENT_DIM, seed=None, jit_compile=True, pixel_means=None,
                 g_loss=G_LOSS, d_steps=D_STEPS, img_shape=None):
        if d_steps != 1:
            raise ValueError("the authors' update has no separate discriminator steps")
        # The output bias starts at the logit of each pixel's mean, as pylearn2's
        # init_sigmoid_bias_from_marginals, so the first samples are the mean digit;
        # its clip to [1e-7, 1 - 1e-7] keeps never-lit pixels finite (logit -16.1).
        self.output_bias = None
        if pixel_means is not None:
            p = np.clip(np.asarray(pixel_means, np.float64).reshape(-1), 1e-7, 1 - 1e-7)
            self.output_bias = np.log(p / (1 - p)).astype(np.float32)
        super().__init__(latent_dim, seed, jit_compile, g_loss, d_steps, img_shape=img_shape)
        # pylearn2's SGD visits the data in a new shuffled order each pass; the
        # order is drawn on the host once per pass, from (shuffle seed, pass).
        self.shuffle_seed = keras.Variable(
            int(seed if seed is not None else np.random.randint(2 ** 31 - 1)) % (2 ** 31 - 1),
            dtype="int32", trainable=False, name="shuffle_seed")
        self.order, self._order_of = None, None
        self._host_updates = self._next_shuffle = 0  # updates done, and where the next pass begins
        self._jit_compile = jit_compile

    def build_models(self, jit_compile):
        self.generator = self.build_generator()
        self.discriminator = self.build_discriminator()
        # SGD with momentum written out (pylearn2's rule: inc = m inc - lr grad;
        # param += inc) because the yaml changes the momentum as training goes.
        self.params = self.generator.trainable_variables + self.discriminator.trainable_variables
        self.velocities = [keras.Variable(np.zeros(v.shape, np.float32), trainable=False, name="velocity")
                           for v in self.params]
        self.updates = keras.Variable(0, dtype="int32", trainable=False, name="updates")

    def build_generator(self):
        """100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, weights uniform in +-0.05 (the
        output, and the maxout discriminator's input, follow img_shape on other data)."""
        init = lambda: keras.initializers.RandomUniform(-0.05, 0.05)
        bias = "zeros" if self.output_bias is None else keras.initializers.Constant(self.output_bias)
        return keras.Sequential([
            keras.Input(shape=(self.latent_dim,)),
            layers.Dense(1200, activation="relu", kernel_initializer=init()),
            layers.Dense(1200, activation="relu", kernel_initializer=init()),
            layers.Dense(int(np.prod(self.img_shape)), activation="sigmoid", kernel_initializer=init(),
                         bias_initializer=bias),
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
        return (x.astype(np.float32) / 255.0).reshape(*x.shape[:3], -1)

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

    @classmethod
    def options_for_data(cls, x_train):
        """The output bias's pixel means (in [0, 1]), from the digits it trains on."""
        return {**super().options_for_data(x_train), "pixel_means": x_train.reshape(len(x_train), -1).mean(0) / 255.0}

    def schedule(self, update, epoch):
        """mnist.yaml's learning rate and momentum for update `update` in pass
        `epoch` (both 0-based): the rate divided by 1.000004 per update down to
        1e-6; momentum 0.5 rising linearly to 0.7 from pass 1 to 250 (the
        MomentumAdjustor counts from 1 in the first pass)."""
        update, epoch = ops.cast(update, "float32"), ops.cast(epoch, "float32")
        lr = ops.maximum(self.learning_rate * ops.exp(-update * math.log(self.decay)), self.min_lr)
        ramp = ops.minimum(epoch / (self.saturate - 1), 1.0)
        return lr, self.momentum_start + (self.momentum_end - self.momentum_start) * ramp

    def _update(self, x_train, batch_size):
        """One update of AdversaryCost2: one minibatch of real digits, one of
        samples, and D and G stepped together from the same forward pass."""
        per_epoch = ops.shape(x_train)[0] // batch_size
        t = self.updates.value
        epoch, pos = t // per_epoch, t % per_epoch
        # a gather, not order[a:b]: XLA would compile anew for every slice position
        real = ops.take(x_train, ops.take(self.order.value, pos * batch_size + ops.arange(batch_size)), axis=0)
        z = self.noise(batch_size)
        ones, zeros = ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))
        bce = keras.losses.binary_crossentropy

        def objectives():
            y_real = self.discriminator(real, training=True)
            y_fake = self.discriminator(self.generator(z, training=True), training=True)
            # ---- D: maximize log D(x) + log(1 - D(G(z))) ----
            loss_real, loss_fake = ops.mean(bce(ones, y_real)), ops.mean(bce(zeros, y_fake))
            # ---- G: maximize log D(G(z)) (or minimize log(1 - D(G(z))) with --g-loss minimax),
            #      through the same samples and dropout masks ----
            g_obj = ops.mean(generator_objective(self.g_loss, y_fake))
            return (g_obj, 0.5 * (loss_real + loss_fake)), (loss_real, loss_fake, y_real, y_fake)

        # The gradient of each objective for its own network, from the one forward pass
        # (tf.GradientTape, jax.vjp or torch.autograd: the backend's one difference here).
        (g_obj, _), (loss_real, loss_fake, y_real, y_fake), (g_grads, d_grads) = backend.gradients(
            objectives, [self.generator.trainable_variables, self.discriminator.trainable_variables])
        # ---- both networks step at once, with the yaml's learning rate and momentum ----
        lr, momentum = self.schedule(t, epoch)
        for param, velocity, grad in zip(self.params, self.velocities, list(g_grads) + list(d_grads)):
            velocity.assign(momentum * velocity.value - lr * grad)
            param.assign(param.value + velocity.value)
        self.updates.assign(t + 1)
        acc_real = ops.mean(ops.cast(y_real > 0.5, "float32"))
        acc_fake = ops.mean(ops.cast(y_fake < 0.5, "float32"))
        return ops.stack([loss_real, acc_real, loss_fake, acc_fake, g_obj, lr, momentum])

    def train_iteration(self, x_train, batch_size):
        """One of the authors' updates (D and G together). Returns gan.py's loop's
        ([d_loss_real, d_acc_real], [d_loss_fake, d_acc_fake], g_loss)."""
        if self._order_of is None or self._host_updates >= self._next_shuffle:
            self.shuffle(int(x_train.shape[0]), batch_size)
            self._host_updates = int(ops.convert_to_numpy(self.updates))
        r_loss, r_acc, f_loss, f_acc, g_loss, lr, momentum = ops.convert_to_numpy(
            self._step(x_train, batch_size)).tolist()
        self._host_updates += 1
        self.logged = {"schedule/learning_rate": lr, "schedule/momentum": momentum}
        return [r_loss, r_acc], [f_loss, f_acc], g_loss

    # --- skip on a first read: pylearn2's pass-by-pass shuffle, and what a checkpoint holds ---

    def all_variables(self):
        return (self.generator.variables + self.discriminator.variables + self.velocities
                + [self.updates, self.seed_generator.state] + [v for v in [getattr(self, "order", None)] if v is not None])

    def shuffle(self, n, batch_size):
        """Draw the order of pass `updates // per_epoch` onto the device, once per pass."""
        epoch = int(ops.convert_to_numpy(self.updates)) // (n // batch_size)
        if self._order_of != (n, epoch):
            rng = np.random.default_rng([int(ops.convert_to_numpy(self.shuffle_seed)), epoch])
            order = rng.permutation(n).astype(np.int32)
            if self.order is None or self.order.shape[0] != n:
                # a new variable for another data size: the compiled update must capture it anew
                self.order = keras.Variable(order, dtype="int32", trainable=False, name="order")
                self._step = backend.compiled(self._update, self.all_variables(), self._jit_compile)
            else:
                self.order.assign(order)
            self._order_of = (n, epoch)
            self._next_shuffle = (epoch + 1) * (n // batch_size)

    def state_variables(self):
        weights = self.weight_variables()
        state = dict(weights)
        keys = {id(v): k for k, v in weights.items()}
        for param, velocity in zip(self.params, self.velocities):
            state[f"sgd/{keys[id(param)]}/velocity"] = velocity
        state.update({"sgd/updates": self.updates, "sgd/shuffle_seed": self.shuffle_seed,
                      "rng": self.seed_generator.state})
        return state

    def load_state(self, arrays):
        super().load_state(arrays)
        self._order_of = None  # the pass may have changed: draw its order again


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
        super().__init__(latent_dim=1, seed=seed, jit_compile=jit_compile, g_loss=g_loss, train_on_batch=True)

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
        g = ops.convert_to_numpy(self.generator(self.host_noise(np.random.default_rng(seed), samples),
                                                training=False))[:, 0]
        h = 1.06 * max(g.std(), 1e-3) * samples ** -0.2
        p_g = np.zeros_like(x)
        for start in range(0, samples, 2000):  # bounded memory: points x 2000 at a time
            u = (x[:, None] - g[None, start:start + 2000]) / h
            p_g += np.exp(-0.5 * u ** 2).sum(1)
        p_g /= samples * h * math.sqrt(2 * math.pi)
        p_data = self.p_data(x)
        d = ops.convert_to_numpy(self.discriminator(x[:, None].astype(np.float32), training=False))[:, 0]
        total = p_data + p_g
        d_star = np.divide(p_data, total, out=np.full_like(x, np.nan), where=total > 1e-12)
        return p_data, p_g, d, d_star


# -----------------------------------------------------------------------------
# main: the commands (train, sample, evaluate, toy), run by the package beside
# this file with these models and these settings

ARCHS = {GAN.arch: GAN, PaperGAN.arch: PaperGAN}  # --arch's names: a variant is a subclass, chosen here
DEFAULTS = dict(epochs=EPOCHS, sample_interval=SAMPLE_INTERVAL, latent_dim=LATENT_DIM, images=IMAGES, run_dir=RUN_DIR,
                checkpoint_interval=CHECKPOINT_INTERVAL, eval_every=EVAL_EVERY, arch=ARCH, g_loss=G_LOSS,
                g_losses=G_LOSSES, d_steps=D_STEPS)


def train_main(argv, context):
    """Training (no command named): gan.py's __init__ and train(), after the
    package has checked every input and the run's folder (run.json holds a
    resumed run's settings)."""
    run, x_all, source = train.open_run(argv, context, DEFAULTS, ARCHS)
    settings = run.settings
    gan_class = ARCHS[settings["arch"]]

    # gan.py: (X_train, _), (_, _) = mnist.load_data(); X_train = X_train / 127.5 - 1.; a channel axis.
    # x_all is MNIST's 60,000 training digits, uint8 in [0, 255] (the authors' model trains on 50,000).
    n_train, _ = gan_class.training_digits(len(x_all))
    x_train = gan_class.from_pixels(x_all[:n_train])  # float32 (n, 28, 28, 1): [-1, 1] (tanh); the authors' [0, 1]
    # (your own images: (n, rows, cols, 1 or 3), and img_shape below follows them, as gan.py's img_rows...)

    backend.set_random_seed(settings["seed"])  # the weights' initial values
    gan = gan_class(latent_dim=settings["latent_dim"], seed=settings["seed"], jit_compile=JIT_COMPILE,
                    g_loss=settings["g_loss"], d_steps=settings["d_steps"],
                    **gan_class.options_for_data(x_all[:n_train]))
    gan.train_on_batch = settings["train_on_batch"]
    started = train.begin(run, gan, x_all, source, DEFAULTS)  # a checkpoint restored; the start line
    gan.train(x_train, epochs=settings["epochs"], batch_size=settings["batch_size"],
              sample_interval=settings["sample_interval"], run=run)
    train.done(run, started)


def main(argv=None):
    """`python gan_2014.py [sample | evaluate | toy] [options]`; training when no command is named."""
    commands.main(argv, train_main, ARCHS, ToyGAN, dict(DEFAULTS, jit_compile=JIT_COMPILE))


if __name__ == "__main__":
    main()
