#!/usr/bin/env python3
"""A folder of PNGs as --data (issue 45): how long a new run takes to read it
and reach its first grids, and a resumed run (which reads the cache instead).

    python benchmarks/image_folder.py --data mnist.npz --images 20000

Writes the first --images training digits of --data as PNG files (in 10
subfolders) into a temporary folder, with an empty Keras cache, then runs
`python gan_2014.py --data FOLDER --epochs 200` as a user would, timing from
the command's start to each grid file's appearance (0.png: the untrained
generator; 200.png: after 200 iterations), then `--resume --epochs 400`.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "gan_2014.py")


def timed_run(args, cwd, env, grids):
    """Run the script; seconds from its start to each grid's file, and to its end."""
    start = time.time()
    done = subprocess.run([sys.executable, SCRIPT, *args], cwd=cwd, env=env, capture_output=True, text=True)
    end = time.time() - start
    if done.returncode:
        sys.exit(done.stderr)
    seen = {g: os.path.getmtime(os.path.join(cwd, "images", f"{g}.png")) - start for g in grids}
    return seen, end, done.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a local MNIST .npz in Keras's layout")
    p.add_argument("--images", type=int, default=20000, help="how many PNGs to write (default 20000)")
    args = p.parse_args()
    with np.load(args.data) as f:
        digits = f["x_train"][:args.images]
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "pngs")
        for i, digit in enumerate(digits):
            sub = os.path.join(folder, str(i % 10))
            os.makedirs(sub, exist_ok=True)
            Image.fromarray(digit).save(os.path.join(sub, f"{i:06d}.png"))
        size = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(folder) for n in names)
        env = dict(os.environ, KERAS_HOME=os.path.join(tmp, "keras-home"))
        seen, end, out = timed_run(["--data", folder, "--epochs", "200", "--seed", "0"], tmp, env, (0, 200))
        read_line = next(line for line in out.splitlines() if line.startswith("gan_2014: read "))
        print(f"{len(digits):,} PNGs of 28x28 ({size / 1e6:.1f} MB) in {folder}/")
        print(f"  new run: {read_line[10:]}")
        print(f"  new run: first grid (0.png) {seen[0]:.1f} s after the command started; 200.png at "
              f"{seen[200]:.1f} s; done in {end:.1f} s")
        seen, end, out = timed_run(["--resume", "--epochs", "400"], tmp, env, (400,))
        assert "read " not in out, "the resumed run read the folder again"
        print(f"  --resume (the cache, not the folder): 400.png at {seen[400]:.1f} s; done in {end:.1f} s")


if __name__ == "__main__":
    main()
