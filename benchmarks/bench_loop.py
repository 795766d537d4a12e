#!/usr/bin/env python3
"""Milliseconds per training iteration: the seed's loop, ours, and the floor.

    python benchmarks/bench_loop.py                      # ../shared/data/mnist-24k.npz
    python benchmarks/bench_loop.py --data mnist.npz --batch-sizes 32 --iterations 400

(a) seed:  the seed's literal loop: NumPy minibatches, generator.predict(), three
           train_on_batch calls on NumPy arrays, Keras's default compile; with only
           the two Keras 3 fixes it needs to train (trainable toggled around the
           steps, one Adam per model).
(b) ours:  GAN.train_iteration, the very function `python gan_2014.py` calls each
           iteration (imported, not copied).
(c) floor: one XLA-compiled function doing the same three updates (discriminator on
           real, on fake, generator through the frozen discriminator).

The three run in one process on the same data, in interleaved blocks so that a
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
import tensorflow as tf
import keras

import gan_2014

DEFAULT_DATA = os.path.join(os.path.dirname(HERE), "..", "shared", "data", "mnist-24k.npz")


def seed_loop(gan, x_train, batch_size):
    """(a): one iteration of the seed's loop as written, bar the Keras 3 fixes."""
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

    compiled = tf.function(step, jit_compile=True)
    # The host sync that train_on_batch's returned floats imply, for a fair floor.
    return lambda x_train, batch_size: [float(l) for l in compiled(x_train, batch_size)]


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
    p.add_argument("--data", default=DEFAULT_DATA, help="MNIST .npz (default ../shared/data/mnist-24k.npz)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    p.add_argument("--iterations", type=int, default=200, help="timed iterations per loop (default 200)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--memory-epochs", type=int, default=1000,
                   help="iterations of the default run whose peak memory is read (0: skip)")
    args = p.parse_args()

    (x, _), _ = gan_2014.load_mnist(args.data)
    x_np = gan_2014.to_tanh_range(x)
    x_tf = tf.convert_to_tensor(x_np)
    gpus = tf.config.list_physical_devices("GPU")
    device = gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, device {device}, "
          f"data {args.data} ({len(x)} digits)")
    print(f"ms per iteration: median [min, max] over {args.iterations} iterations after {args.warmup} warm-up")
    print(f"{'batch':>5}  {'(a) seed loop':>22}  {'(b) gan_2014.py':>22}  {'(c) fused floor':>22}  {'b/c':>5}  {'a/b':>5}")
    for bs in args.batch_sizes:
        keras.utils.set_random_seed(0)
        seed_gan = gan_2014.GAN(seed=0, jit_compile="auto")  # Keras's default compile
        ours = gan_2014.GAN(seed=0)
        floor_gan = gan_2014.GAN(seed=0)
        floor = floor_step(floor_gan)
        t = time_interleaved({
            "a": lambda: seed_loop(seed_gan, x_np, bs),
            "b": lambda: ours.train_iteration(x_tf, bs),
            "c": lambda: floor(x_tf, bs),
        }, args.iterations, args.warmup)
        med = {k: np.median(v) for k, v in t.items()}
        cell = lambda k: f"{med[k]:7.1f} [{t[k].min():5.1f}, {t[k].max():6.1f}]"
        print(f"{bs:>5}  {cell('a'):>22}  {cell('b'):>22}  {cell('c'):>22}  "
              f"{med['b'] / med['c']:5.2f}  {med['a'] / med['b']:5.2f}", flush=True)
    if args.memory_epochs:
        peak, wall = peak_rss_of_default_run(args.data, args.memory_epochs)
        print(f"peak resident memory of `python gan_2014.py --data {os.path.basename(args.data)} "
              f"--epochs {args.memory_epochs}` (other options default): {peak:.0f} MB "
              f"(wall {wall:.0f} s)")


if __name__ == "__main__":
    main()
