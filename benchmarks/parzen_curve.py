#!/usr/bin/env python3
"""Test-set Parzen log-likelihood against training updates: the Table 1 figure
for each saved checkpoint of a run, with the run's held-out curve, drawn
against the paper's 225 ± 2.

    python benchmarks/parzen_curve.py --data mnist.npz \
        --history run/history.csv --out docs/parzen-paper.png SNAPSHOT_DIR ...

Each SNAPSHOT_DIR holds a checkpoint.npz (or a generator.weights.h5), as
`evaluate --weights` takes it; the figure for each is exactly the Parzen row
of `python gan_2014.py evaluate` (10,000 samples from noise seed 0, sigma from
the authors' grid on training digits 50,000-50,999, the 10,000 test digits),
without the classifier figures. Prints a CSV line per snapshot, writes the
plot, and appends the lines to --csv if given. --other-csv (grey) and
--seed-csv CSV LABEL (dashed, repeatable) draw other runs' CSVs beside it;
docs/results.md gives the command that draws docs/parzen-paper.png.
"""
import argparse
import csv
import itertools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np

import gan_2014
from gan_2014_utils import evaluation, generators, process, run_folder
from gan_2014_utils import history as run_history
from gan_2014_utils.data import load_data

process.import_keras_quietly()  # TensorFlow's C++ start-up notices off the terminal, as the script


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("snapshots", nargs="*", help="folders holding a checkpoint.npz or a generator.weights.h5")
    p.add_argument("--data", required=True, help="the full MNIST .npz (the authors' sigma digits need 51,000)")
    p.add_argument("--history", help="the run's history.csv, for its held-out curve")
    p.add_argument("--csv", help="append 'updates,test_ll,se,sigma' lines here (read back for the plot); "
                   "benchmarks/parzen-paper-seed0.csv holds the seed-0 run's")
    p.add_argument("--out", help="the plot to write (PNG)")
    p.add_argument("--label", default="--arch paper, seed 0; SE 1.4-2.3")
    p.add_argument("--other-csv", help="another run's 'updates,test_ll,se,sigma' lines, drawn in grey beside it "
                   "(benchmarks/parzen-paper-seed0-first-continuation.csv: the same run continued on another machine)")
    p.add_argument("--other-label", default="the same run from update 170,080, continued on another machine")
    p.add_argument("--seed-csv", nargs=2, action="append", default=[], metavar=("CSV", "LABEL"),
                   help="another seed's 'updates,test_ll,se,sigma' lines, drawn in a colour of their own "
                   "(repeatable; benchmarks/parzen-paper-seed1.csv 'seed 1')")
    args = p.parse_args()
    # Read the CSVs before minutes of evaluation, so a bad one costs nothing and gets nothing appended.
    other = read_rows(args.other_csv) if args.other_csv else []
    seeds = [(read_rows(path), label) for path, label in args.seed_csv]
    if args.csv and os.path.exists(args.csv):
        read_rows(args.csv)

    (x_train, _), (x_test, _) = load_data(args.data)
    if len(x_train) < 51000:
        sys.exit("parzen_curve.py: needs a file with the authors' sigma digits 50,000-50,999 (the full MNIST)")
    x_valid, x_test01 = x_train[50000:51000] / 255.0, x_test / 255.0
    rows = []
    for folder in args.snapshots:
        found = generators.describe_generator(folder, gan_2014.ARCHS)
        gan = generators.load_generator(found, gan_2014.ARCHS)
        updates = run_folder.read_checkpoint(found[1], meta_only=True)[0]["iteration"] if found[0] == "checkpoint" else None
        ll, se, sigma = evaluation.parzen_evaluate(evaluation.generate(gan, 10000, 0), x_valid, x_test01)
        rows.append((updates, ll, se, sigma))
        print(f"{updates},{ll:.2f},{se:.2f},{sigma:.3f}", flush=True)
    if args.csv:
        with open(args.csv, "a") as f:  # a weights file has no update count: it has no place on the curve
            f.writelines(f"{u},{ll:.2f},{se:.2f},{s:.3f}\n" for u, ll, se, s in rows if u is not None)
        rows = read_rows(args.csv)
    if args.out:
        plot(rows, args.history, args.out, args.label, other, args.other_label, seeds)


def read_rows(path):
    """The sorted (updates, test_ll, se, sigma) rows of a CSV; an empty field is NaN (not recorded)."""
    try:
        with open(path) as f:
            rows = [r for r in csv.reader(f) if r]
        if any(len(r) != 4 for r in rows):
            raise ValueError("a line without 4 fields")
        return sorted({int(r[0]): (int(r[0]), *(float(v) if v else np.nan for v in r[1:])) for r in rows}.values())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        sys.exit(f"parzen_curve.py: {path} is not a readable 'updates,test_ll,se,sigma' CSV ({e}); "
                 "give one written by this script, as benchmarks/parzen-paper-seed0.csv")


def plot(rows, history, out, label, other=(), other_label="", seeds=()):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.axhspan(223, 227, color="tab:red", alpha=0.15)
    ax.axhline(225, color="tab:red", lw=1, label="paper, Table 1: adversarial nets, 225 ± 2")
    if history:
        h = run_history.read_history(history, upto=10 ** 12)
        h = np.array([r for r in h if np.isfinite(r[7])])
        if len(h):
            ax.plot(h[:, 0], h[:, 7], ".-", color="tab:purple", alpha=0.6, ms=4,
                    label="held-out digits 51,000-52,999 (--eval-every; chooses run/best/)")
    series = [(other, "tab:gray", other_label, "o-"), (rows, "tab:blue", label, "o-")]
    # every --seed-csv is drawn: its colours repeat past the fourth rather than dropping the fifth
    colours = itertools.cycle(("tab:green", "tab:orange", "tab:brown", "tab:pink"))
    series += [(seed_rows, next(colours), name, "s--") for seed_rows, name in seeds]
    for points, color, name, fmt in series:
        r = np.array([row for row in points if row[0] is not None], dtype=float).reshape(-1, 4)
        if len(r):
            ax.errorbar(r[:, 0], r[:, 1], yerr=np.nan_to_num(r[:, 2]), fmt=fmt, color=color, ms=4, capsize=2,
                        label=f"test digits ({name})")
    ax.set_xlabel("updates (iterations)")
    # thousands separators: past 1e6 updates matplotlib would switch the axis to an offset "1e6"
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.set_ylabel("Parzen log-likelihood (nats)")
    ax.set_title("MNIST test Parzen LL, 10,000 samples, sigma on digits 50,000-50,999")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
