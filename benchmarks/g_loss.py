#!/usr/bin/env python3
"""Section 3 of the paper, measured: "early in learning, when G is poor, D can
reject samples with high confidence ... log(1 - D(G(z))) saturates. Rather
than training G to minimize log(1 - D(G(z))) we can train G to maximize
log D(G(z)) ... much stronger gradients early in learning."

For both models and both generator losses (`--g-loss`), a few seeds each:
before each of the first --early iterations, the norm of G's gradient of its
own loss and the mean D(G(z)) on a fixed batch of 100 noise vectors; after
--iterations, the held-out Parzen estimate (as `--eval-every` computes it).

    python benchmarks/g_loss.py --data mnist-24k.npz --out docs/g-loss.png

Prints a CSV line per run and a summary table; writes the figure.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np

import gan_2014
from gan_2014_utils import evaluation, process
from gan_2014_utils.data import load_data, monitor_digits

process.import_keras_quietly()  # TensorFlow's C++ start-up notices off the terminal, as the script


def g_gradient(gan, z):
    """(|grad of G's loss wrt G's weights|, mean D(G(z))) on the batch z, with the
    networks in the mode their training step uses for G (D's dropout off)."""
    import keras
    from gan_2014_utils import backend
    ops = keras.ops

    def objective():
        d = gan.discriminator(gan.generator(z, training=True), training=False)
        return (ops.mean(gan_2014.generator_objective(gan.g_loss, d)),), d
    _, d, (grads,) = backend.gradients(objective, [gan.generator.trainable_variables])
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in grads))
    return float(ops.convert_to_numpy(norm)), float(ops.convert_to_numpy(ops.mean(d)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--early", type=int, default=200)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--out", default="g-loss.png")
    args = p.parse_args()
    import keras
    (x_all, _), _ = load_data(args.data)
    rows, curves = [], {}
    print("arch,g_loss,seed,grad_norm_first,grad_norm_mean_early,d_g_z_first,heldout_ll,seconds")
    for arch in gan_2014.ARCHS:
        cls = gan_2014.ARCHS[arch]
        n_train, _ = cls.training_digits(len(x_all))
        x_sigma, x_scored, _ = monitor_digits(x_all, n_train)
        monitor = evaluation.heldout_monitor(x_sigma, x_scored)
        x_train = keras.ops.convert_to_tensor(cls.from_pixels(x_all[:n_train]))
        for loss in gan_2014.G_LOSSES:
            for seed in range(args.seeds):
                t = time.perf_counter()
                keras.utils.set_random_seed(seed)
                gan = cls(seed=seed, g_loss=loss, **cls.options_for_data(x_all[:n_train]))
                z = gan.host_noise(np.random.default_rng(1000 + seed), 100)
                early = []
                for it in range(1, args.iterations + 1):
                    if it <= args.early:
                        early.append(g_gradient(gan, z))
                    gan.train_iteration(x_train, cls.batch_size)
                ll = monitor(gan)[0]
                early = np.array(early)
                curves[(arch, loss, seed)] = early
                row = (arch, loss, seed, early[0, 0], early[:, 0].mean(), early[0, 1], ll, time.perf_counter() - t)
                rows.append(row)
                print("%s,%s,%d,%.4g,%.4g,%.4f,%.1f,%.0f" % row, flush=True)

    print("\n| arch | G loss | |grad G| at iteration 1 | mean |grad G|, iterations 1-%d | D(G(z)) at 1 | "
          "held-out LL at %d (seeds) |" % (args.early, args.iterations))
    print("| --- | --- | --- | --- | --- | --- |")
    for arch in gan_2014.ARCHS:
        for loss in gan_2014.G_LOSSES:
            r = np.array([row[3:7] for row in rows if row[0] == arch and row[1] == loss], float)
            lls = ", ".join(f"{v:.1f}" for v in r[:, 3])
            print(f"| {arch} | {loss} | {r[:, 0].mean():.3g} | {r[:, 1].mean():.3g} | {r[:, 2].mean():.3f} | "
                  f"{r[:, 3].mean():.1f} ({lls}) |")

    plot(curves, args)


def plot(curves, args):
    """The first iterations' |grad G| and D(G(z)), a line per model, loss and seed."""
    from gan_2014_utils.pictures import pyplot
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    colors = {"non-saturating": "tab:blue", "minimax": "tab:red"}
    styles = {"keras-gan": "-", "paper": "--"}
    for (arch, loss, seed), early in curves.items():
        label = f"{arch}, {loss}" if seed == 0 else None
        it = np.arange(1, len(early) + 1)
        axes[0].plot(it, early[:, 0], styles[arch], color=colors[loss], lw=1, alpha=0.8, label=label)
        axes[1].plot(it, early[:, 1], styles[arch], color=colors[loss], lw=1, alpha=0.8, label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("|gradient of G's loss| (G's weights)")
    axes[1].set_ylabel("mean D(G(z))")
    for ax in axes:
        ax.set_xlabel("iteration")
    axes[0].legend(fontsize=8)
    fig.suptitle("Section 3: the minimax loss log(1 - D(G(z))) against the non-saturating -log D(G(z)), "
                 f"{args.seeds} seeds each", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
