#!/usr/bin/env python3
"""What TensorBoard's events cost an iteration of the default training loop
(issue 44: at most 3%), measured with and without them in one process:

    python benchmarks/tensorboard_cost.py --data mnist.npz
    KERAS_BACKEND=jax python benchmarks/tensorboard_cost.py --data mnist.npz

One model trains through two run folders in turn, one writing events and one
not, in interleaved blocks of --sample-interval iterations (so a slow spell of
the machine hits both alike); each block is what GAN.train does per iteration:
the compiled step, the losses to the host, the run's record (history.csv, and
the events in one of them) and, at the block's end, a grid. Prints ms per
iteration for each and the events' share.
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402

import gan_2014  # noqa: E402
from gan_2014_utils import backend  # noqa: E402
from gan_2014_utils.data import load_data  # noqa: E402
from gan_2014_utils.recorder import Recorder  # noqa: E402
from gan_2014_utils.run_folder import RunFolder  # noqa: E402


def block(gan, x_train, record, first, n):
    """n iterations of GAN.train's loop body into `record`; (its seconds, those in the record's calls)."""
    start, recording = time.perf_counter(), 0.0
    for it in range(first, first + n):
        d_loss_real, d_loss_fake, g_loss = gan.train_iteration(x_train, gan.batch_size)
        d_loss = 0.5 * np.add(d_loss_real, d_loss_fake)
        t = time.perf_counter()
        record.record(gan, it, d_loss_real, d_loss_fake, d_loss, g_loss)
        recording += time.perf_counter() - t
    path = gan.sample_images(first + n - 1, record.run.images, record.fixed_noise)
    t = time.perf_counter()
    record.add_grid(first + n - 1, path)
    return time.perf_counter() - start, recording + time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a local MNIST .npz in Keras's layout")
    p.add_argument("--blocks", type=int, default=15, help="timed blocks for each (default 15)")
    p.add_argument("--sample-interval", type=int, default=gan_2014.SAMPLE_INTERVAL)
    p.add_argument("--warmup", type=int, default=2, help="untimed blocks first (compiling)")
    args = p.parse_args()
    (x_all, _), _ = load_data(args.data)
    x_train = gan_2014.GAN.from_pixels(x_all)
    backend.set_random_seed(0)
    gan = gan_2014.GAN(seed=0, jit_compile=gan_2014.JIT_COMPILE)
    x = gan_2014.ops.convert_to_tensor(x_train, "float32")
    n, total = args.sample_interval, args.blocks + args.warmup
    times, recording = {True: [], False: []}, {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {on: RunFolder(os.path.join(tmp, str(on)), os.path.join(tmp, str(on)),
                              dict(tensorboard=on, log_every=10 ** 9)) for on in (True, False)}
        with Recorder(runs[True], gan, total * n) as with_events, Recorder(runs[False], gan, total * n) as without:
            for b in range(total):
                for on, record in ((True, with_events), (False, without))[::1 if b % 2 else -1]:
                    seconds, in_record = block(gan, x, record, b * n + 1, n)
                    if b >= args.warmup:
                        times[on].append(seconds / n)
                        recording[on].append(in_record / n)
        sizes = {on: sum(os.path.getsize(os.path.join(tmp, str(on), f)) for f in os.listdir(os.path.join(tmp, str(on)))
                         if "tfevents" in f) for on in (True, False)}
    on, off = (1000 * np.median(times[k]) for k in (True, False))
    r_on, r_off = (1e6 * np.median(recording[k]) for k in (True, False))
    print(f"backend {backend.name()}, XLA {gan_2014.JIT_COMPILE}, {args.blocks} blocks of {n} iterations each, "
          f"interleaved; median ms per iteration")
    print(f"  without events: {off:.3f} ms")
    print(f"  with events:    {on:.3f} ms  ({100 * (on / off - 1):+.2f}%; "
          f"{sizes[True] / (args.blocks + args.warmup) / n:.0f} bytes of events per iteration, grids included)")
    print(f"  of which in the run's record (history.csv, events, grid): {r_off:.0f} us without events, "
          f"{r_on:.0f} us with them ({100 * (r_on - r_off) / 1000 / off:+.2f}% of an iteration)")


if __name__ == "__main__":
    main()
