#!/usr/bin/env python3
"""What torch.compile gives the article's loop on the PyTorch backend: Keras's
jit_compile=True on torch compiles each model's train function with
torch.compile. gan_2014 keeps torch eager (backend.jit); this measures both.

    pip install torch==2.13.0
    python benchmarks/torch_compile.py --data mnist.npz            # eager, then compiled

Each in its own child: the --train-on-batch form (the form whose steps Keras
compiles), the first iteration's seconds (compiling), then ms per iteration
over --iterations after 50.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(data, jit, iterations):
    os.environ["KERAS_BACKEND"] = "torch"
    sys.path.insert(0, ROOT)
    import keras
    import numpy as np

    import gan_2014
    from gan_2014_utils import backend
    backend.jit = lambda wanted: jit
    with np.load(data) as f:
        x = keras.ops.convert_to_tensor(gan_2014.GAN.from_pixels(f["x_train"]))
    gan = gan_2014.GAN(seed=0, jit_compile=jit, train_on_batch=True)
    t = time.perf_counter()
    gan.train_iteration(x, 32)
    first = time.perf_counter() - t
    for _ in range(50):
        gan.train_iteration(x, 32)
    t = time.perf_counter()
    for _ in range(iterations):
        gan.train_iteration(x, 32)
    ms = (time.perf_counter() - t) / iterations * 1000
    print(f"torch, jit_compile={jit}: first iteration {first:.1f} s, then {ms:.2f} ms per iteration")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a local MNIST .npz in Keras's layout")
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--child", choices=("0", "1"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.data, args.child == "1", args.iterations)
    for jit in ("0", "1"):
        subprocess.run([sys.executable, __file__, "--data", args.data, "--iterations", str(args.iterations),
                        "--child", jit], check=True)


if __name__ == "__main__":
    main()
