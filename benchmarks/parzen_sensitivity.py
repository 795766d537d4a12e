#!/usr/bin/env python3
"""How far the Table 1 figure moves with things that are not the model: a
smoothing of the samples, their faint speckle, the number of samples, the
choice of sigma. Sensitivity rows only: none of this is applied to a model's
reported figure.

    python benchmarks/parzen_sensitivity.py --data mnist.npz WEIGHTS [WEIGHTS ...]

WEIGHTS is what `evaluate --weights` takes (a run folder, a best/ folder, a
.weights.h5). For each, and for real training digits 0-9,999 as the
reference, it prints the test Parzen log-likelihood (the authors' protocol:
sigma from numpy.logspace(-1, 0, 10) on training digits 50,000-50,999, the
10,000 test digits) of: the 10,000 samples as they are; blurred by a 3x3
kernel (0.15/0.7/0.15 and 0.25/0.5/0.25 along each axis); with pixels below
0.3 set to 0; 50,000 samples instead of 10,000; and the test figure at every
sigma of the grid. Then two smoothness statistics: the mean absolute
difference between neighbouring pixels, and isolated bright pixels per image
(above 0.5 with all 8 neighbours below 0.1).
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np

import gan_2014
from gan_2014_utils import evaluation, generators, process
from gan_2014_utils.data import load_data

process.import_keras_quietly()  # TensorFlow's C++ start-up notices off the terminal, as the script


def blur(images, centre):
    """A separable 3x3 blur: (1 - centre) / 2, centre, (1 - centre) / 2 along each axis, edges repeated."""
    side = (1 - centre) / 2
    out = images
    for axis in (1, 2):
        lo = np.concatenate([np.take(out, [0], axis=axis), np.delete(out, -1, axis=axis)], axis=axis)
        hi = np.concatenate([np.delete(out, 0, axis=axis), np.take(out, [-1], axis=axis)], axis=axis)
        out = side * lo + centre * out + side * hi
    return out


def smoothness(images):
    """(mean |neighbour difference|, isolated bright pixels per image)."""
    dx = np.abs(np.diff(images, axis=2)).mean()
    dy = np.abs(np.diff(images, axis=1)).mean()
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1)])
    neighbours = np.max([padded[:, 1 + dy_:29 + dy_, 1 + dx_:29 + dx_]
                         for dy_ in (-1, 0, 1) for dx_ in (-1, 0, 1) if dy_ or dx_], axis=0)
    isolated = ((images > 0.5) & (neighbours < 0.1)).sum(axis=(1, 2)).mean()
    return float((dx + dy) / 2), float(isolated)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", nargs="+")
    p.add_argument("--data", required=True, help="the full MNIST .npz")
    p.add_argument("--no-50k", action="store_true", help="skip the 50,000-sample row (the slowest)")
    args = p.parse_args()
    (x_train, _), (x_test, _) = load_data(args.data)
    x_valid, x_test01 = x_train[50000:51000] / 255.0, x_test / 255.0
    sigmas = evaluation.PARZEN_SIGMAS

    def figure(samples):
        ll, se, sigma = evaluation.parzen_evaluate(samples, x_valid, x_test01)
        return f"{ll:7.1f} ± {se:3.1f} (σ {sigma:.3f})"

    sources = [(w, None) for w in args.weights] + [("real training digits 0-9,999", x_train[:10000] / 255.0)]
    for name, samples in sources:
        t = time.perf_counter()
        if samples is None:
            gan = generators.load_generator(generators.describe_generator(name, gan_2014.ARCHS), gan_2014.ARCHS)
            samples = evaluation.generate(gan, 10000, 0)
            more = None if args.no_50k else evaluation.generate(gan, 50000, 0)
        else:
            more = None
        print(f"\n{name}")
        print(f"  as they are                      {figure(samples)}")
        print(f"  blurred 0.15/0.7/0.15            {figure(blur(samples, 0.7))}")
        print(f"  blurred 0.25/0.5/0.25            {figure(blur(samples, 0.5))}")
        print(f"  pixels below 0.3 set to 0        {figure(np.where(samples < 0.3, 0.0, samples))}")
        if more is not None:
            print(f"  50,000 samples                   {figure(more)}")
        by_sigma = evaluation.parzen_log_likelihood(x_test01, samples, sigmas).mean(axis=1)
        print("  test LL at each sigma            " + "  ".join(f"{s:.3f}: {v:.1f}" for s, v in zip(sigmas, by_sigma)))
        tv, isolated = smoothness(samples)
        print(f"  mean |neighbour difference| {tv:.4f}; isolated bright pixels per image {isolated:.2f}"
              f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    tv, isolated = smoothness(x_test01)
    print(f"\ntest digits: mean |neighbour difference| {tv:.4f}; isolated bright pixels per image {isolated:.2f}")


if __name__ == "__main__":
    main()
