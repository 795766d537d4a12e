#!/usr/bin/env python3
"""How often the authors' model collapses, and the collapse watch's calibration.

Train each seed for a few thousand updates first (the table in
docs/results.md#collapse used 5,000 updates on the full MNIST), one folder per
seed, with the script as a user runs it:

    for s in 0 1 2 3 4 5 6 7 8 9 10 11; do
      python gan_2014.py --arch paper --seed $s --data mnist.npz --epochs 5000 \\
          --run-dir sweep/seed$s/run --images sweep/seed$s/images
    done
    python benchmarks/collapse.py sweep/seed*/run --data mnist.npz

For each run: where the collapse watch (run_history.CollapseWatch) fires on its
history.csv, the lowest 500-iteration mean of D's loss after the first 1,000
updates (how near the threshold a run that trained came), and, as the judge
independent of the losses, the classifier's view of 1,000 samples of its last
generator (digits covered, score): a collapsed run's samples are one blot.
Writes benchmarks/collapse-paper.npz (the loss series and the verdicts, which
tests/test_collapse.py replays through the watch) and prints a Markdown table.
"""
import argparse
import csv
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np

import gan_2014
from gan_2014_utils import evaluation, generators, process, run_folder
from gan_2014_utils import history as run_history
from gan_2014_utils.data import load_data


def series(run):
    with open(os.path.join(run, run_history.HISTORY)) as f:
        rows = list(csv.DictReader(f))
    return (np.array([float(r["d_loss"]) for r in rows], np.float32),
            np.array([float(r["g_loss"]) for r in rows], np.float32),
            np.array([float(r["d_acc"]) for r in rows], np.float32))


def watch(d, g):
    w = run_history.CollapseWatch()
    for it, (a, b) in enumerate(zip(d, g), start=1):
        if w.add(it, float(a), float(b)):
            return it, w.since
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run folders (history.csv and checkpoint.npz), one per seed")
    p.add_argument("--data", required=True, help="the MNIST .npz they trained on (for the classifier)")
    p.add_argument("--out", default=os.path.join(HERE, "collapse-paper.npz"))
    args = p.parse_args()
    (x_train, y_train), (x_test, y_test) = load_data(args.data)
    classifier, _, _ = evaluation.load_or_train_classifier(
        x_train, y_train, x_test, y_test, os.path.join(os.path.expanduser("~"), ".cache", "gan_2014"))
    judge = gan_2014.keras.Model(classifier.inputs, [classifier.get_layer("features").output,
                                                     classifier.outputs[0]])
    rows, seeds, verdicts, ds, gs = [], [], [], [], []
    histories = {run: series(run) for run in args.runs}
    n = min(len(d) for d, _, _ in histories.values())
    for run, (d, g, acc) in histories.items():
        found = generators.describe_generator(run, gan_2014.ARCHS)
        meta, _ = run_folder.read_checkpoint(found[1], meta_only=True)
        seed = meta["settings"]["seed"]
        figures = evaluation.classifier_figures(judge, evaluation.generate(generators.load_generator(found, gan_2014.ARCHS), 1000, 0))
        collapsed = figures["covered"] <= 2  # one blot (or two): the samples' classes, not the losses
        means = np.convolve(d, np.ones(500) / 500, mode="valid")  # means[i]: iterations i+1 .. i+500
        lowest = float(means[501:].min())  # the windows that end after update 1,000
        fire = watch(d, g)
        rows.append((seed, len(d), fire, lowest, float(acc[-500:].mean()), float(g[-500:].mean()),
                     figures["covered"], figures["score"], collapsed))
        seeds.append(seed), verdicts.append(collapsed), ds.append(d[:n]), gs.append(g[:n])
    order = np.argsort(seeds)
    np.savez(args.out, seeds=np.array(seeds)[order], collapsed=np.array(verdicts)[order],
             d_loss=np.stack(ds)[order], g_loss=np.stack(gs)[order])
    print(f"threshold: mean D loss over {run_history.COLLAPSE_WINDOW} iterations under {run_history.COLLAPSE_D_LOSS}")
    print("| seed | updates | watch fired at (since) | lowest 500-update mean D loss after 1,000 | "
          "D acc, last 500 | G loss, last 500 | digits covered | classifier score | collapsed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i in order:
        seed, updates, fire, lowest, acc, g, covered, score, collapsed = rows[i]
        fired = "no" if fire is None else f"{fire[0]:,} ({fire[1]:,})"
        print(f"| {seed} | {updates:,} | {fired} | {lowest:.2g} | {100 * acc:.1f}% | {g:.2f} | {covered}/10 | "
              f"{score:.2f} | {'**yes**' if collapsed else 'no'} |")
    print(f"\n{sum(verdicts)} of {len(verdicts)} seeds collapsed within {n:,} updates; wrote {args.out}")


if __name__ == "__main__":
    process.import_keras_quietly()
    main()
