#!/usr/bin/env python3
"""The default model's spread over seeds, on each backend: `python gan_2014.py
--data FILE --seed S` (30,000 iterations, every default) for each seed on each
backend named, then `evaluate` of each on TensorFlow (the same evaluator for
all), one after another. About 7 minutes a run on 2 cores.

    pip install jax
    python benchmarks/backend_seeds.py --data mnist.npz --out runs/seeds --backends jax,tensorflow --seeds 0,1,2

A run already finished in OUT is evaluated again, not retrained. Prints each
run's test Parzen LL and, per backend, the mean and standard deviation over seeds.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a local MNIST .npz in Keras's layout (the full MNIST)")
    p.add_argument("--out", required=True, help="a folder for the runs (BACKEND-SEED/run, /images)")
    p.add_argument("--backends", default="jax,tensorflow")
    p.add_argument("--seeds", default="0,1,2")
    args = p.parse_args()
    script = os.path.join(ROOT, "gan_2014.py")
    figures = {}
    for seed in args.seeds.split(","):
        for backend in args.backends.split(","):
            folder = os.path.join(args.out, f"{backend}-{seed}")
            run = os.path.join(folder, "run")
            if not os.path.exists(os.path.join(run, "generator.weights.h5")):
                subprocess.run([sys.executable, script, "--data", args.data, "--seed", seed, "--run-dir", run,
                                "--images", os.path.join(folder, "images"), "--log-every", "5000"],
                               env=dict(os.environ, KERAS_BACKEND=backend), check=True)
            out = subprocess.run([sys.executable, script, "evaluate", "--weights", run, "--data", args.data],
                                 env=dict(os.environ, KERAS_BACKEND="tensorflow"), check=True,
                                 capture_output=True, text=True).stdout
            ll = float(re.search(r"generator \(10,000 samples\): Parzen LL (-?[\d.]+) ± ([\d.]+)", out).group(1))
            figures.setdefault(backend, []).append(ll)
            print(f"{backend} seed {seed}: test Parzen LL {ll:.1f}", flush=True)
    for backend, lls in figures.items():
        sd = statistics.stdev(lls) if len(lls) > 1 else float("nan")
        print(f"{backend}: {', '.join(f'{x:.1f}' for x in lls)}: mean {statistics.mean(lls):.1f} ± {sd:.1f} (sd)")


if __name__ == "__main__":
    main()
