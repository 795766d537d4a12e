#!/usr/bin/env python3
"""Milliseconds per iteration: `python gan_2014.py` end to end against the loop
a user would pick instead, PyTorch-GAN's `implementations/gan/gan.py`, with the
article's networks and Adam settings on the same CPU.

    pip install torch==2.13.0        # optional: for this benchmark only (docs/speed.md)
    python benchmarks/peer_pytorch.py --data mnist.npz   # about 4 minutes on 2 cores

Ours: a real `python gan_2014.py --data FILE --epochs N` process with the
default options (batch 32, a grid every 200 iterations, a checkpoint every
1,000, history.csv every iteration, the log line); its time per iteration is
read from its own history.csv (the `seconds` column, between iterations
--warmup and N), so start-up and compiling are left out and everything the
loop does is in.

The peer: PyTorch-GAN's loop as written (per minibatch: the generator's step
on fresh noise, then the discriminator on the real digits and on the detached
fakes, averaged; its log line every iteration; a grid every 200 iterations
here, like ours), on the article's networks (LeakyReLU 0.2; BatchNorm with
Keras's momentum 0.8, which is PyTorch's 0.2, and Keras's epsilon 0.001),
Adam(0.0002, beta_1=0.5), minibatches of 32 drawn with replacement from the
digits held in memory as one tensor. Timed over the same iterations.

Both run as children of this process, alternately, --rounds times; the best
round of each is compared (ours / peer). With --backends, ours runs on each
Keras backend named (KERAS_BACKEND), side by side in the same rounds; with
--train-on-batch, also in the article's literal form on each:

    python benchmarks/peer_pytorch.py --data mnist.npz --backends tensorflow,jax,torch --train-on-batch
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def peer(data, iterations, warmup, out):
    """PyTorch-GAN's gan.py loop on the article's networks; prints ms per iteration after `warmup`."""
    import numpy as np
    import torch
    from torch import nn
    from PIL import Image

    torch.manual_seed(0)
    with np.load(data) as f:
        x = torch.tensor(f["x_train"].astype(np.float32) / 127.5 - 1.0).view(-1, 784)

    def block(n_in, n_out, bn=True):
        layers = [nn.Linear(n_in, n_out), nn.LeakyReLU(0.2)]
        return layers + ([nn.BatchNorm1d(n_out, eps=0.001, momentum=0.2)] if bn else [])

    generator = nn.Sequential(*block(100, 256), *block(256, 512), *block(512, 1024), nn.Linear(1024, 784),
                              nn.Tanh())
    discriminator = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                                  nn.Linear(256, 1), nn.Sigmoid())
    loss = nn.BCELoss()
    opt_g = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    batch = 32
    valid, fake = torch.ones(batch, 1), torch.zeros(batch, 1)
    fixed = torch.randn(25, 100)
    for it in range(1, iterations + 1):
        if it == warmup + 1:
            t0 = time.perf_counter()
        real = x[torch.randint(0, len(x), (batch,))]
        # ---- the generator first, as PyTorch-GAN's gan.py ----
        opt_g.zero_grad()
        gen_imgs = generator(torch.randn(batch, 100))
        g_loss = loss(discriminator(gen_imgs), valid)
        g_loss.backward()
        opt_g.step()
        # ---- the discriminator on real digits and on the detached fakes ----
        opt_d.zero_grad()
        d_loss = (loss(discriminator(real), valid) + loss(discriminator(gen_imgs.detach()), fake)) / 2
        d_loss.backward()
        opt_d.step()
        print("[Batch %d] [D loss: %f] [G loss: %f]" % (it, d_loss.item(), g_loss.item()), flush=True)
        if it % 200 == 0:
            generator.eval()
            with torch.no_grad():
                grid = (generator(fixed).view(5, 5, 28, 28).permute(0, 2, 1, 3).reshape(140, 140) + 1) / 2
            generator.train()
            Image.fromarray((grid.numpy() * 255).astype(np.uint8)).save(os.path.join(out, f"{it}.png"))
    return (time.perf_counter() - t0) / (iterations - warmup) * 1000


def ours(data, iterations, warmup, out, backend="tensorflow", literal=False):
    """`python gan_2014.py` as a user runs it; ms per iteration from its history.csv."""
    env = dict(os.environ, KERAS_BACKEND=backend)
    subprocess.run([sys.executable, os.path.join(ROOT, "gan_2014.py"), "--data", data, "--epochs", str(iterations),
                    "--seed", "0", "--run-dir", os.path.join(out, "run"), "--images", os.path.join(out, "images")]
                   + (["--train-on-batch"] if literal else []), check=True, stdout=subprocess.DEVNULL, env=env)
    with open(os.path.join(out, "run", "history.csv")) as f:
        seconds = {int(r["iteration"]): float(r["seconds"]) for r in csv.DictReader(f)}
    return (seconds[iterations] - seconds[warmup]) / (iterations - warmup) * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a local MNIST .npz in Keras's layout")
    p.add_argument("--iterations", type=int, default=3000)
    p.add_argument("--warmup", type=int, default=500, help="iterations left out of the timing")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--backends", default="tensorflow", help="Keras backends to run ours on, comma-separated")
    p.add_argument("--train-on-batch", action="store_true", help="also time ours in the literal form")
    p.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)  # the child that runs the peer
    args = p.parse_args()
    if args.peer:
        with tempfile.TemporaryDirectory() as out:
            print(f"ms {peer(args.data, args.iterations, args.warmup, out):.3f}", file=sys.stderr)
        return
    kinds = [(b, lit) for b in args.backends.split(",") for lit in ((False, True) if args.train_on_batch else (False,))]
    name = lambda b, lit: f"{b}{' --train-on-batch' if lit else ''}"
    times = {"peer": [], **{name(*k): [] for k in kinds}}
    for r in range(args.rounds):
        for b, lit in kinds:
            with tempfile.TemporaryDirectory() as out:
                times[name(b, lit)].append(ours(args.data, args.iterations, args.warmup, out, b, lit))
        child = subprocess.run([sys.executable, __file__, "--peer", "--data", args.data, "--iterations",
                                str(args.iterations), "--warmup", str(args.warmup)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
        times["peer"].append(float(child.stderr.split("ms ")[-1]))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in times.items()) + " ms per iteration",
              flush=True)
    best = {k: min(v) for k, v in times.items()}
    print(f"best of {args.rounds} (ms per iteration, iterations {args.warmup + 1}-{args.iterations}, batch 32):")
    print(f"  PyTorch-GAN loop   {best['peer']:7.2f}")
    for k in times:
        if k != "peer":
            print(f"  gan_2014.py on {k:<28} {best[k]:7.2f}   / tensorflow's default "
                  f"{best[k] / best[name(kinds[0][0], False)]:.2f}   / peer {best[k] / best['peer']:.2f}")


if __name__ == "__main__":
    main()
