#!/usr/bin/env python3
"""Milliseconds per training iteration: the article's loop, ours, and the floor;
then the same for the authors' model (--arch paper).

    python benchmarks/bench_loop.py --data mnist.npz     # a local copy of Keras's mnist.npz
    python benchmarks/bench_loop.py --data mnist.npz --batch-sizes 32 --iterations 400

(a) article: the article's GAN_2014.py loop as written: NumPy minibatches, generator.predict(), three
           train_on_batch calls on NumPy arrays, Keras's default compile; with only
           the two Keras 3 fixes it needs to train (trainable toggled around the
           steps, one Adam per model).
(b) ours:  GAN.train_iteration, the very function `python gan_2014.py` calls each
           iteration (imported, not copied): the three Keras train steps in one
           compiled call; (t) the same with --train-on-batch, the article's three
           train_on_batch calls as written.
(c) floor: one XLA-compiled function doing the same three updates (discriminator on
           real, on fake, generator through the frozen discriminator).

--arch paper rows: (b) PaperGAN.train_iteration, the function the script calls,
against (c) its floor: the same update (same layer sizes, dropout masks, both
objectives from one forward pass, momentum step, minibatch gathered on the
device) in plain TensorFlow ops, no Keras layers, in one compiled function.
It is timed on the training digits the script uses (0-49,999 of a full MNIST).

The loops run in one process on the same data, in interleaved blocks so that a
slow spell of the machine hits all three alike. Then a real default-configuration
training process is started to read its peak resident memory.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np
import gan_2014  # noqa: E402  (first: it loads TensorFlow without its C++ start-up notices)
from gan_2014_utils import process
from gan_2014_utils.data import load_data

process.import_keras_quietly()
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402


def article_loop(gan, x_train, batch_size):
    """(a): one iteration of the article's loop as written, bar the Keras 3 fixes."""
    valid = np.ones((batch_size, 1))
    fake = np.zeros((batch_size, 1))
    idx = np.random.randint(0, x_train.shape[0], batch_size)
    imgs = x_train[idx]
    noise = np.random.normal(0, 1, (batch_size, gan.latent_dim))
    gen_imgs = gan.generator.predict(noise, verbose=0)
    gan.discriminator.trainable = True
    d_loss_real = gan.discriminator.train_on_batch(imgs, valid)
    d_loss_fake = gan.discriminator.train_on_batch(gen_imgs, fake)
    gan.discriminator.trainable = False
    noise = np.random.normal(0, 1, (batch_size, gan.latent_dim))
    g_loss = gan.combined.train_on_batch(noise, valid)
    return d_loss_real, d_loss_fake, g_loss


def floor_step(gan):
    """(c): the same three updates as GAN.train_iteration, fused into one XLA call.

    Uses the GAN's own models, optimizers and random stream, so from equal
    states it must leave the same weights as train_iteration (tests check it)."""
    D, G = gan.discriminator, gan.generator
    bce = keras.losses.BinaryCrossentropy()
    d_opt, g_opt = D.optimizer, gan.combined.optimizer
    D.trainable = True
    d_vars = list(D.trainable_variables)
    D.trainable = False
    g_vars = list(G.trainable_variables)

    def step(x_train, batch_size):
        imgs, gen_imgs, noise = gan._draw_batch(x_train, batch_size)
        ones, zeros = tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))
        losses = []
        for x, y in ((imgs, ones), (gen_imgs, zeros)):
            with tf.GradientTape() as tape:
                loss = bce(y, D(x, training=True))
            d_opt.apply_gradients(zip(tape.gradient(loss, d_vars), d_vars))
            losses.append(loss)
        with tf.GradientTape() as tape:
            loss = bce(ones, D(G(noise, training=True), training=True))
        g_opt.apply_gradients(zip(tape.gradient(loss, g_vars), g_vars))
        losses.append(loss)
        return losses

    compiled = tf.function(step, jit_compile=True, autograph=False)
    # The host sync that train_on_batch's returned floats imply, for a fair floor.
    return lambda x_train, batch_size: [float(l) for l in compiled(x_train, batch_size)]


def paper_floor_step(gan):
    """(c) for --arch paper: AdversaryCost2's update written in plain TensorFlow.

    It reads and writes the PaperGAN's own variables, its minibatch order and
    the same random streams (the noise's, and each Dropout layer's), so from
    equal states it must leave the same weights as train_iteration (tests check)."""
    dense = lambda model: [(l.kernel, l.bias) for l in model.layers if isinstance(l, keras.layers.Dense)]
    (w1, b1), (w2, b2), (w3, b3) = dense(gan.generator)
    (v1, c1), (v2, c2), (v3, c3) = dense(gan.discriminator)
    drops = [(l.seed_generator.state, l.rate) for l in gan.discriminator.layers
             if isinstance(l, keras.layers.Dropout)]
    params = [w1, b1, w2, b2, w3, b3, v1, c1, v2, c2, v3, c3]
    velocity = dict(zip((id(p) for p in gan.params), gan.velocities))
    velocities = [velocity[id(p)] for p in params]
    root3 = float(np.sqrt(3.0))

    def seed(state):  # what keras.random does with a SeedGenerator: use the state, then step it
        s = tf.convert_to_tensor(state)
        state.assign(s + tf.constant([0, 1], s.dtype))
        return tf.cast(tf.math.floormod(s, 2 ** 31 - 2), tf.int32)

    def discriminator_logit(x):
        h = tf.reshape(x, (-1, 784))
        for (state, rate), (v, c) in zip(drops, [(v1, c1), (v2, c2)]):
            h = tf.nn.experimental.stateless_dropout(h, rate, seed=seed(state))
            h = tf.reduce_max(tf.reshape(tf.matmul(h, v) + c, (-1, v.shape[1] // 5, 5)), axis=-1)
        h = tf.nn.experimental.stateless_dropout(h, drops[2][1], seed=seed(drops[2][0]))
        return tf.matmul(h, v3) + c3

    def step(x_train, batch_size):
        per_epoch = tf.cast(tf.shape(x_train)[0] // batch_size, tf.int32)
        t = tf.convert_to_tensor(gan.updates)
        epoch, pos = t // per_epoch, t % per_epoch
        real = tf.gather(x_train, tf.gather(gan.order, pos * batch_size + tf.range(batch_size, dtype=tf.int32)))
        z = tf.random.stateless_uniform((batch_size, gan.latent_dim), seed=seed(gan.seed_generator.state),
                                        minval=-root3, maxval=root3)
        with tf.GradientTape(persistent=True) as tape:
            h = tf.nn.relu(tf.matmul(z, w1) + b1)
            h = tf.nn.relu(tf.matmul(h, w2) + b2)
            fake = tf.nn.sigmoid(tf.matmul(h, w3) + b3)
            logit_real, logit_fake = discriminator_logit(real), discriminator_logit(fake)
            bce = lambda label, logit: tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logit), label), logit))
            loss_real, loss_fake = bce(1.0, logit_real), bce(0.0, logit_fake)
            d_obj, g_obj = 0.5 * (loss_real + loss_fake), bce(1.0, logit_fake)
        grads = tape.gradient(g_obj, params[:6]) + tape.gradient(d_obj, params[6:])
        tf_t, tf_epoch = tf.cast(t, tf.float32), tf.cast(epoch, tf.float32)
        lr = tf.maximum(0.1 * tf.exp(-tf_t * float(np.log(1.000004))), 1e-6)
        momentum = 0.5 + 0.2 * tf.minimum(tf_epoch / 249.0, 1.0)
        for p, v, g in zip(params, velocities, grads):
            v.assign(momentum * v - lr * g)
            p.assign_add(v)
        gan.updates.assign_add(1)
        return tf.stack([loss_real, loss_fake, g_obj])

    compiled = tf.function(step, jit_compile=True, autograph=False)
    return lambda x_train, batch_size: compiled(x_train, batch_size).numpy().tolist()


def time_interleaved(loops, iterations, warmup, block=20):
    """Per-iteration seconds of each loop, run in alternating blocks."""
    for run in loops.values():
        for _ in range(warmup):
            run()
    times = {name: [] for name in loops}
    while min(len(t) for t in times.values()) < iterations:
        for name, run in loops.items():
            for _ in range(block):
                t = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t)
    return {name: np.array(t) * 1000 for name, t in times.items()}


# A forked child's peak RSS counts the pages it shares with its parent, and this
# process holds over a GB by now; so a small launcher process starts the run and
# reads the peak of that one child.
LAUNCHER = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t)
"""


def peak_rss_of_default_run(data, epochs):
    """Peak resident memory (MB) and wall time (s) of a real `python gan_2014.py` process."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, os.path.join(os.path.dirname(HERE), "gan_2014.py"), "--data", data,
               "--epochs", str(epochs), "--images", os.path.join(tmp, "images"),
               "--run-dir", os.path.join(tmp, "run"), "--seed", "0"]
        out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], check=True,
                             capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a local MNIST .npz in Keras's layout")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    p.add_argument("--iterations", type=int, default=200, help="timed iterations per loop (default 200)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--paper-iterations", type=int, default=200,
                   help="timed updates of the --arch paper rows (0: skip)")
    p.add_argument("--memory-epochs", type=int, default=1000,
                   help="iterations of the default run whose peak memory is read (0: skip)")
    args = p.parse_args()

    (x, _), _ = load_data(args.data)
    x_np = gan_2014.GAN.from_pixels(x)
    x_tf = tf.convert_to_tensor(x_np)
    gpus = tf.config.list_physical_devices("GPU")
    device = gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, device {device}, "
          f"data {args.data} ({len(x)} digits)")
    print(f"ms per iteration: median [min, max] over {args.iterations} iterations after {args.warmup} warm-up")
    print(f"{'batch':>5}  {'(a) article loop':>22}  {'(t) --train-on-batch':>22}  {'(b) gan_2014.py':>22}  "
          f"{'(c) fused floor':>22}  {'b/c':>5}  {'t/b':>5}  {'a/b':>5}")
    for bs in args.batch_sizes:
        keras.utils.set_random_seed(0)
        article_gan = gan_2014.GAN(seed=0, jit_compile="auto")  # Keras's default compile
        ours = gan_2014.GAN(seed=0)
        literal = gan_2014.GAN(seed=0, train_on_batch=True)
        floor_gan = gan_2014.GAN(seed=0)
        floor = floor_step(floor_gan)
        t = time_interleaved({
            "a": lambda: article_loop(article_gan, x_np, bs),
            "t": lambda: literal.train_iteration(x_tf, bs),
            "b": lambda: ours.train_iteration(x_tf, bs),
            "c": lambda: floor(x_tf, bs),
        }, args.iterations, args.warmup)
        med = {k: np.median(v) for k, v in t.items()}
        cell = lambda k: f"{med[k]:7.1f} [{t[k].min():5.1f}, {t[k].max():6.1f}]"
        print(f"{bs:>5}  {cell('a'):>22}  {cell('t'):>22}  {cell('b'):>22}  {cell('c'):>22}  "
              f"{med['b'] / med['c']:5.2f}  {med['t'] / med['b']:5.2f}  {med['a'] / med['b']:5.2f}", flush=True)
    if args.paper_iterations:
        time_paper(args)
    if args.memory_epochs:
        peak, wall = peak_rss_of_default_run(args.data, args.memory_epochs)
        print(f"peak resident memory of `python gan_2014.py --data {os.path.basename(args.data)} "
              f"--epochs {args.memory_epochs}` (other options default): {peak:.0f} MB "
              f"(wall {wall:.0f} s)")


def time_paper(args):
    """The --arch paper rows: PaperGAN.train_iteration against its plain-TensorFlow floor."""
    (x, _), _ = load_data(args.data)
    n, _ = gan_2014.PaperGAN.training_digits(len(x))
    x_tf = tf.convert_to_tensor(gan_2014.PaperGAN.from_pixels(x[:n]))
    means = x[:n].reshape(n, -1).mean(0) / 255.0
    ours, floor_gan = (gan_2014.PaperGAN(seed=0, pixel_means=means) for _ in range(2))
    ours.train_iteration(x_tf, 100)  # draws the first pass's order
    floor_gan.shuffle(n, 100)
    floor = paper_floor_step(floor_gan)
    t = time_interleaved({"b": lambda: ours.train_iteration(x_tf, 100), "c": lambda: floor(x_tf, 100)},
                         args.paper_iterations, args.warmup)
    med = {k: np.median(v) for k, v in t.items()}
    cell = lambda k: f"{med[k]:7.1f} [{t[k].min():5.1f}, {t[k].max():6.1f}]"
    print(f"\n--arch paper, batch 100, {n} training digits: ms per update, median [min, max] "
          f"over {args.paper_iterations} updates")
    print(f"{'':5}  {'':22}  {'(b) gan_2014.py':>22}  {'(c) plain-TF floor':>22}  {'b/c':>5}")
    print(f"{100:>5}  {'':22}  {cell('b'):>22}  {cell('c'):>22}  {med['b'] / med['c']:5.2f}", flush=True)


if __name__ == "__main__":
    main()
