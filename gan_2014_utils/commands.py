"""The commands beside training (sample, evaluate, toy) and main: the dispatch,
with every error that ends a command as one line and its exit status."""
import math
import os
import signal
import sys
import time
import zipfile

import numpy as np

from gan_2014_utils import backend, files
from gan_2014_utils.data import is_mnist_shaped, load_data, sigma_digits, unit_pixels
from gan_2014_utils.images import describe, image_shape
from gan_2014_utils.evaluation import (as_data, classifier_figures, generate, load_or_train_classifier, nearest_digits,
                                       parzen_evaluate)
from gan_2014_utils.files import TF_BASE, atomic_write, check_writable_dir, kind_of, require_memory
from gan_2014_utils.options import Parser, add_generator_option, at_least, path_value, positive_int, random_seed, \
    seed_value
from gan_2014_utils.pictures import OWNER, mosaic, pyplot, save_grid
from gan_2014_utils.process import (CheckpointError, FolderGone, FolderInUse, QuietStream, Stopped, UsageError,
                                    WriteError, crash_log, lazy, leave_at_once, one_line)
from gan_2014_utils.run_folder import CHECKPOINT, read_checkpoint
from gan_2014_utils.generators import describe_generator, load_generator

keras, ops = lazy("keras"), lazy("keras.ops")


# -----------------------------------------------------------------------------
# sample: new digits; the paper's Figures 2 and 3

def sample_parser():
    p = Parser(prog="gan_2014.py sample", description=(
        "New digits from a trained generator, as a grid or as an array file; with --nearest, each beside "
        "the nearest training digit (the paper's Figure 2); with --interpolate K, rows of K digits from noise "
        "moving in a straight line (the paper's Figure 3)."))
    add_generator_option(p)
    p.add_argument("--n", type=positive_int, default=25,
                   help="how many digits (default 25); with --interpolate, how many rows")
    p.add_argument("--out", default="samples.png", metavar="FILE", type=path_value, help=(
        "FILE.png: a grid; FILE.npz or FILE.npy: the images as float32 (n, rows, cols[, 3]) in [0, 1]; with "
        "--interpolate also FILE.gif, an animation (default samples.png)"))
    p.add_argument("--seed", type=seed_value, help="seed of the noise, 0 to 2**32-1: same seed, same digits "
                                                   "(default: random, printed)")
    p.add_argument("--nearest", action="store_true", help=(
        "beside each digit, the nearest training digit (Euclidean distance of the pixels) among those the "
        "model trained on, framed in yellow as in the paper's Figure 2; needs --data (or the download). "
        ".npz: images, nearest, nearest_index (into the file's x_train), distance"))
    p.add_argument("--data", metavar="FILE", type=path_value,
                   help="the MNIST .npz the model trained on, for --nearest (default: download)")
    p.add_argument("--interpolate", type=at_least(2), metavar="K", help=(
        "K digits per row from z moving linearly between two random noise vectors, both included "
        "(the paper's Figure 3). .npz: images (n*K, 28, 28), z (n*K, latent size)"))
    return p


def check_sample_args(args):
    """Every option of `sample` that can be refused before TensorFlow loads; returns the --out kind."""
    ext = os.path.splitext(args.out)[1].lower()
    kinds = (".png", ".npz", ".npy") + ((".gif",) if args.interpolate else ())
    if ext not in kinds:
        raise UsageError(f"--out {args.out}: unknown kind of file; end it in {', '.join(kinds[:-1])} or {kinds[-1]}")
    if args.nearest and args.interpolate:
        raise UsageError("--nearest and --interpolate make different figures; pass one")
    if args.data is not None and not args.nearest:
        raise UsageError("--data is read only with --nearest; drop --data or add --nearest")
    if kind_of(args.out) == "folder":
        raise UsageError(f"--out {args.out}: is a folder; give a file name such as {args.out.rstrip('/')}/samples.png")
    if kind_of(args.out) == "other":
        raise UsageError(f"--out {args.out}: not a regular file (a pipe, a device or a broken link); "
                         "give another file name")
    check_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")  # made only to write into it
    check_out(args.out, (args.weights, args.data), ("images", "nearest", "nearest_index", "distance", "z"))
    count = args.n * (args.interpolate or 1)
    per_digit = 784 * 4 * 3 + (30 * 30 * 9 * 6 if ext in (".png", ".gif") else 0) + 1200 * 4 * 2
    require_memory(f"--n {args.n}", TF_BASE + count * per_digit * (2 if args.nearest else 1), "pass a smaller --n")
    return ext


SIGNATURES = {".png": b"\x89PNG\r\n\x1a\n", ".gif": b"GIF8", ".npy": b"\x93NUMPY"}
RUN_MARKS = ("run.json", CHECKPOINT, OWNER, "best.json")  # a folder holding one of these is a run's


def check_out(out, inputs, npz_members):
    """--out replaces only a file of the kind this command writes: never one of
    its inputs, a file in a run's folders, or another kind of file (an .npz of
    other arrays, a file that is not what its name says)."""
    folder = os.path.dirname(os.path.abspath(out))
    marks = [m for m in RUN_MARKS if os.path.lexists(os.path.join(folder, m))]
    if marks:
        raise UsageError(f"--out {out}: its folder holds a run's files ({marks[0]}); give a name in another folder")
    for given in (p for p in inputs if p is not None and kind_of(out) != "missing" and os.path.exists(p)):
        if os.path.samefile(given, out) or (os.path.isdir(given) and os.path.samefile(given, folder)):
            raise UsageError(f"--out {out}: it is this command's input ({given}); give another file name")
    if kind_of(out) != "file":
        return
    ext = os.path.splitext(out)[1].lower()
    if ext == ".npz":
        try:
            with zipfile.ZipFile(out) as zf:
                ours = set(zf.namelist()) <= {f"{m}.npy" for m in npz_members}
        except (OSError, ValueError, zipfile.BadZipFile):
            ours = False
    else:
        try:
            with open(out, "rb") as f:
                ours = f.read(len(SIGNATURES[ext])) == SIGNATURES[ext]
        except OSError:  # a file it cannot read is not one it wrote
            ours = False
    if not ours:
        raise UsageError(f"--out {out}: an existing file that this command did not write (not the {ext[1:]} "
                         "it writes); give another file name, or move that file away")


def interpolated(gan, n, k, seed):
    """n rows of k digits from z moving in a straight line between two noise vectors: (images, z)."""
    ends = gan.host_noise(np.random.default_rng(seed), 2 * n).reshape(n, 2, gan.latent_dim)
    t = np.linspace(0.0, 1.0, k, dtype=np.float32)[None, :, None]
    z = ((1 - t) * ends[:, :1] + t * ends[:, 1:]).reshape(-1, gan.latent_dim).astype(np.float32)
    return as_data(gan.to_unit(ops.convert_to_numpy(gan.generator(z, training=False)))), z


def write_samples(args, ext, images, extra):
    """--out as its name says: a grid, a Figure 2 or 3 mosaic, a GIF, or the arrays."""
    save_png = lambda img: atomic_write(args.out, lambda tmp: img.save(tmp, format="PNG"))
    if ext == ".png" and args.nearest:
        pairs = np.stack([images, extra["nearest"]], 1).reshape(-1, *images.shape[1:])  # sample, its neighbour, ...
        save_png(mosaic(pairs, cols=10, marked=set(range(1, len(pairs), 2)), rgb=True))
    elif ext == ".png" and args.interpolate:
        save_png(mosaic(images, cols=args.interpolate, rgb=True))
    elif ext == ".gif":  # frame j: every row's j-th digit, there and back
        steps = images.reshape(args.n, args.interpolate, *images.shape[1:])
        order = list(range(args.interpolate)) + list(range(args.interpolate - 2, 0, -1))
        cols = int(math.ceil(math.sqrt(args.n)))
        frames = [mosaic(steps[:, j], cols=cols, rgb=True) for j in order]
        atomic_write(args.out, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True,
                                                          append_images=frames[1:], duration=120, loop=0))
    elif ext == ".png":
        save_grid(images, args.out)
    elif ext == ".npz":
        atomic_write(args.out, lambda tmp: np.savez(tmp, images=images, **extra))
    else:
        atomic_write(args.out, lambda tmp: np.save(tmp, images))


def check_shape(x, found, data):
    """The data's images are the generator's shape (rows, cols, channels)."""
    shape = image_shape(x)
    if shape != tuple(found.image_shape):
        raise UsageError(f"--data {data or 'keras.datasets.mnist'}: its images are {shape[0]}x{shape[1]}x{shape[2]}, "
                         f"the generator's {'x'.join(map(str, found.image_shape))}; pass the data it trained on")


def sample_main(argv, context, archs):
    args = sample_parser().parse_args(argv)
    ext = check_sample_args(args)
    found = describe_generator(args.weights, archs)  # a wrong path is refused before TensorFlow loads
    x_train = None
    if args.nearest:
        (x_train, _), _ = load_data(args.data)
        check_shape(x_train, found, args.data)
        x_train = x_train[:archs[found.arch].training_digits(len(x_train))[0]]
    gan = load_generator(found, archs)
    seed = args.seed if args.seed is not None else random_seed()
    extra = {}
    if args.interpolate:
        images, z = interpolated(gan, args.n, args.interpolate, seed)
        extra = {"z": z}
    else:
        images = generate(gan, args.n, seed)
    if args.nearest:
        index, nearest, distance = nearest_digits(images, x_train)
        extra = {"nearest": nearest, "nearest_index": index, "distance": distance.astype(np.float32)}
    check_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out", make=True)
    write_samples(args, ext, images, extra)
    what = "digit pairs (sample, nearest training digit)" if args.nearest else \
        f"rows of {args.interpolate} interpolated digits" if args.interpolate else "digits"
    print(one_line(f"gan_2014: {args.n} {what} (seed {seed}) written to {args.out}"))
    if args.nearest:
        print(f"gan_2014: distance to the nearest training digit: median {np.median(distance):.2f}, "
              f"min {distance.min():.2f} (pixels in [0, 1])")


# -----------------------------------------------------------------------------
# evaluate: the paper's Table 1 yardstick, and the classifier figures

def evaluate_parser():
    p = Parser(prog="gan_2014.py evaluate", description=(
        "Parzen-window log-likelihood of the test digits by the authors' protocol (Goodfellow "
        "et al. 2014, Table 1), and classifier-based quality and mode coverage, for a trained "
        "generator and, as the reference row, for real training digits."))
    add_generator_option(p)
    p.add_argument("--data", metavar="FILE", type=path_value, help="a local MNIST .npz instead of downloading (as for training)")
    p.add_argument("--samples", type=at_least(2), default=10000,
                   help="generator samples for the Parzen windows, at least 2 (default 10000, as the authors)")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the samples' noise (default 0)")
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "gan_2014"),
                   metavar="DIR", type=path_value, help="where the MNIST classifier is cached (default ~/.cache/gan_2014)")
    return p


def print_figures(rows, test_figures, accuracy, where, seconds):
    """The table of Parzen and classifier figures, and the class histograms."""
    print(f"\nClassifier: a small convnet, {where} ({100 * accuracy:.2f}% test accuracy); "
          "digits covered = classes with at least 1% of the samples.")
    print()
    print(f"{'':38} {'Parzen LL ± SE':>16} {'sigma':>6} {'digits':>7} {'KL(hist‖U)':>11} "
          f"{'score':>6} {'Fréchet':>8}")
    for name, ll, se, sigma, f in rows:
        print(f"{name:38} {ll:9.1f} ± {se:4.1f} {sigma:6.3f} {f['covered']:4d}/10 {f['kl']:11.3f} "
              f"{f['score']:6.2f} {f['fd']:8.2f}")
    print(f"{'test digits (reference)':38} {'':>16} {'':>6} {test_figures['covered']:4d}/10 "
          f"{test_figures['kl']:11.3f} {test_figures['score']:6.2f} {'—':>8}")
    print()
    width = max(len(name) for name, *_ in rows)
    print(f"{'class histogram (% of samples):':{width + 2}}  " + " ".join(f"{d:>5}" for d in range(10)))
    for name, *_, f in rows:
        print(f"  {name:{width}}  " + " ".join(f"{100 * h:5.1f}" for h in f["hist"]))
    print(f"  {'test digits':{width}}  " + " ".join(f"{100 * h:5.1f}" for h in test_figures["hist"]))
    print(f"\nevaluate took {seconds:.0f} s")


def evaluate_main(argv, context, archs):
    args = evaluate_parser().parse_args(argv)
    # float64 copies of the samples and the real images, and a 500 x samples distance block: for
    # MNIST's size before anything is read, then for the generator's
    need = lambda pixels: TF_BASE + args.samples * (pixels * 8 * 4 + 500 * 8 * 3)
    require_memory(f"--samples {args.samples}", need(784), "pass a smaller --samples")
    found = describe_generator(args.weights, archs)  # refuse a wrong path before a download
    require_memory(f"--samples {args.samples}", need(int(np.prod(found.image_shape))), "pass a smaller --samples")
    (x_train, y_train), (x_test, y_test) = load_data(args.data)
    check_shape(x_train, found, args.data)
    if x_test is None:  # your own images: the last tenth scores, as a test set would
        n = max(1, min(10000, len(x_train) // 10))
        x_train, x_test = x_train[:-n], x_train[-n:]
        print(f"gan_2014: {args.data} has no test split: its last {n:,} images are scored (a run on this data "
              "trained on them too)", flush=True)
    for split, x in (("training", x_train), ("test", x_test)):
        if len(x) < 2:  # sigma is chosen on training digits; the Fréchet distance needs a covariance
            raise UsageError(f"--data {args.data}: evaluate needs at least 2 {split} digits, this file has "
                             f"{len(x)}; pass a larger MNIST file")
    gan = load_generator(found, archs)
    t0 = time.perf_counter()
    valid, which = sigma_digits(len(x_train))
    x_valid, x_test01 = unit_pixels(x_train[valid]), unit_pixels(x_test)
    # The paper's figure first, as soon as it is computed: the classifier may have to train.
    samples = generate(gan, args.samples, args.seed)
    name = f"generator ({args.samples:,} samples)"
    ll, se, sigma = parzen_evaluate(samples, x_valid, x_test01)
    print(f"Parzen window: the {len(x_test):,} test digits' mean log-likelihood ± standard error; "
          f"sigma chosen from numpy.logspace(-1, 0, 10) on {which}.")
    print(f"{name}: Parzen LL {ll:.1f} ± {se:.1f} (sigma {sigma:.3f}), "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)

    if not is_mnist_shaped(x_train) or y_train is None or y_test is None:
        print(f"gan_2014: the classifier figures are skipped: they judge MNIST-shaped digits (28x28 grey) with "
              f"labels 0-9, and {args.data} holds {describe(x_train)} images"
              + ("" if y_train is not None and y_test is not None else " without labels"), flush=True)
        return [(name, ll, se, sigma, None)]
    classifier, accuracy, where = load_or_train_classifier(x_train, y_train, x_test, y_test, args.cache)
    judge = keras.Model(classifier.inputs, [classifier.get_layer("features").output, classifier.outputs[0]])
    test_figures = classifier_figures(judge, x_test01)
    test_features = test_figures["features"].astype(np.float64)
    rows = [(name, ll, se, sigma, classifier_figures(judge, samples, test_features))]
    real = unit_pixels(x_train[:args.samples])
    rows.append((f"real training digits (first {min(args.samples, len(x_train)):,})",
                 *parzen_evaluate(real, x_valid, x_test01), classifier_figures(judge, real, test_features)))
    print_figures(rows, test_figures, accuracy, where, time.perf_counter() - t0)
    return rows


# -----------------------------------------------------------------------------
# toy: the paper's Figure 1 from a real 1-D run

TOY_ITERATIONS = 2000
TOY_MOMENTS = (0.02, 0.1, 1 / 3, 1.0)  # the four panels, as fractions of the run


def toy_figures(x, p_data, p_g, d, d_star):
    """The two numbers each panel is judged by: the mean |D - D*| weighted by
    where the densities have mass, and the total variation between p_g and p_data."""
    dx = x[1] - x[0]
    w = 0.5 * (p_data + p_g)
    ok = np.isfinite(d_star)
    gap = float(np.sum((w * np.abs(d - np.where(ok, d_star, 0)))[ok]) / np.sum(w[ok]))
    tv = float(0.5 * np.sum(np.abs(p_g - p_data)) * dx)
    return gap, tv


def plot_toy(path, x, moments, p_data, p_g, d, d_star):
    plt = pyplot()
    # a panel per moment: four, or fewer when a short run's moments fall on the same iteration
    fig, axes = plt.subplots(1, len(moments), figsize=(3.5 * len(moments), 3.2), sharey=True, squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.plot(x, p_data[k] / p_data[k].max(), "k:", lw=2, label="p_data (scaled)")
        ax.plot(x, p_g[k] / max(p_g[k].max(), 1e-12), color="tab:green", label="p_g (scaled)")
        ax.plot(x, d[k], "--", color="tab:blue", label="D(x)")
        mass = p_data[k] + p_g[k]  # D* drawn where the densities have mass: elsewhere it is 0/0
        ax.plot(x, np.where(mass > 0.01 * mass.max(), d_star[k], np.nan), color="tab:red", lw=0.8, alpha=0.7,
                label="D*(x) = p_data/(p_data+p_g)")
        gap, tv = toy_figures(x, p_data[k], p_g[k], d[k], d_star[k])
        ax.set_title(f"({'abcd'[k]}) iteration {moments[k]}\n|D-D*| {gap:.3f}, TV(p_g, p_data) {tv:.2f}",
                     fontsize=9)
        ax.set_xlabel("x")
        ax.set_ylim(-0.05, 1.1)
    axes[0][0].legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def toy_main(argv, context, toy, jit_compile):
    p = Parser(prog="gan_2014.py toy", description=(
        "The paper's Figure 1 from a real run: a 1-D GAN trained with gan.py's loop on p_data = "
        f"N({toy.data_mean}, {toy.data_std}^2), and at four moments p_data, p_g, the trained D(x) and "
        "the optimal D*(x) = p_data / (p_data + p_g). Writes FILE.png and FILE.npz."))
    p.add_argument("--out", default="figure1.png", type=path_value, metavar="FILE.png",
                   help="the figure (default figure1.png); the arrays go beside it as FILE.npz")
    p.add_argument("--iterations", type=positive_int, default=TOY_ITERATIONS,
                   help=f"training iterations (default {TOY_ITERATIONS}, about 40 s on 2 CPU cores)")
    p.add_argument("--seed", type=seed_value, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if not args.out.lower().endswith(".png"):
        raise UsageError(f"--out {args.out}: the figure is a PNG; end the name in .png")
    npz = args.out[:-4] + ".npz"
    for path in (args.out, npz):
        if kind_of(path) not in ("missing", "file"):
            raise UsageError(f"--out {args.out}: {path} is not a regular file; give another name")
    check_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out")
    for path in (args.out, npz):
        check_out(path, (), ("x", "iterations", "p_data", "p_g", "d", "d_star"))
    backend.set_random_seed(args.seed)
    gan = toy(seed=args.seed, jit_compile=jit_compile)
    data = np.random.default_rng(args.seed).normal(toy.data_mean, toy.data_std, (20000, 1))
    x_train = ops.convert_to_tensor(data.astype(np.float32))
    x = np.linspace(-1.0, 3.0, 400)
    moments = sorted({max(1, round(f * args.iterations)) for f in TOY_MOMENTS})
    curves = {k: [] for k in ("p_data", "p_g", "d", "d_star")}
    for it in range(1, args.iterations + 1):
        gan.train_iteration(x_train, gan.batch_size)
        if it in moments:
            for key, value in zip(curves, gan.densities(x)):
                curves[key].append(value)
    arrays = {k: np.array(v) for k, v in curves.items()}
    check_writable_dir(os.path.dirname(os.path.abspath(args.out)), "--out", make=True)
    atomic_write(npz, lambda tmp: np.savez(tmp, x=x, iterations=np.array(moments), **arrays))
    plot_toy(args.out, x, moments, **arrays)
    print("moment  iteration  weighted |D - D*|  TV(p_g, p_data)")
    for k, it in enumerate(moments):
        gap, tv = toy_figures(x, *(arrays[key][k] for key in ("p_data", "p_g", "d", "d_star")))
        print(f"  ({'abcd'[k]})  {it:9d}  {gap:17.3f}  {tv:15.3f}")
    print(f"gan_2014: Figure 1 written to {args.out} (arrays in {npz})")


# -----------------------------------------------------------------------------
# main: the dispatch, and each way a command can end as one line

COMMANDS = ("train", "sample", "evaluate", "toy")


def last_checkpoint_note(run_dir):
    """'the last checkpoint, iteration N, is in run/checkpoint.npz' when there is one."""
    if run_dir is None:
        return ""
    path = os.path.join(run_dir, CHECKPOINT)
    try:
        iteration = read_checkpoint(path, meta_only=True)[0]["iteration"]
    except CheckpointError:
        return f"; {path} is not a whole checkpoint" if os.path.exists(path) else "; no checkpoint was written yet"
    return f"; the last checkpoint, iteration {iteration}, is whole in {path}"


def how_it_ended(e, run_dir):
    """(exit status, the one line) for an exception that ended a command."""
    note = lambda: last_checkpoint_note(run_dir)  # read only for the lines that say it
    if isinstance(e, UsageError):
        return 2, f"error: {e}"
    if isinstance(e, FolderInUse):
        return 2, f"error: {e}; wait for it to finish, or pass another --run-dir/--images"
    if isinstance(e, CheckpointError):
        return 2, (f"error: {os.path.join(run_dir or '', CHECKPOINT)}: {e}; start a new run with --overwrite "
                   "or another --run-dir")
    if isinstance(e, FolderGone):
        return 1, f"{e}"
    if isinstance(e, Stopped):
        if e.code == 1:
            return 1, f"{e}" + note()
        return e.code, (f"{e} after iteration {e.iteration}; checkpoint saved in "
                        f"{os.path.join(run_dir or 'run', CHECKPOINT)}; continue with --resume (and the same --run-dir)")
    if isinstance(e, WriteError):
        return 1, f"{e}; free some space or choose another folder" + note()
    if isinstance(e, KeyboardInterrupt):
        return 128 + getattr(e, "signum", signal.SIGINT), "interrupted; files already written are whole" + note()
    if isinstance(e, MemoryError):
        return 1, "ran out of memory; try a smaller --batch-size, --n or --samples" + note()
    log = crash_log(run_dir)
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return 1, (f"unexpected error: {type(e).__name__}: {first}" + note()
               + (f"; the details are in {log} (please send it with a bug report)" if log else ""))


def main(argv, train_main, archs, toy, defaults):
    """Run one command (training when argv names none: gan_2014.py's `train_main`)
    with gan_2014.py's models (`archs`, by --arch name; `toy`, Figure 1's) and settings (`defaults`);
    exits with its status when it fails, after one line on stderr."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    run = {"train": lambda: train_main(argv, context),
           "sample": lambda: sample_main(argv, context, archs),
           "evaluate": lambda: evaluate_main(argv, context, archs),
           "toy": lambda: toy_main(argv, context, toy, defaults["jit_compile"])}[command]
    context = {}
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (s if isinstance(s, QuietStream) else QuietStream(s) for s in streams)
    # Outside the training loop a signal leaves at once (training's loop takes
    # SIGINT, SIGTERM and SIGHUP over to finish its iteration and checkpoint).
    leave = lambda signum, frame: leave_at_once(signum, note=last_checkpoint_note(context.get("run_dir")))
    previous = {s: signal.signal(s, leave) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    code, message = 0, None
    try:
        if not {"-h", "--help"} & set(argv) and (problem := backend.problem()):
            raise UsageError(problem)  # before anything is read or written
        run()
    except (Exception, KeyboardInterrupt) as e:
        code, message = how_it_ended(e, context.get("run_dir"))
    finally:
        files.WRITE_GUARDS.clear()
        for lock in reversed(context.get("locks", [])):
            files.unlock_folder(lock)
    if message is not None:
        print(f"gan_2014.py: {one_line(message)}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    for s, handler in previous.items():
        signal.signal(s, handler)
    sys.stdout, sys.stderr = streams
    if code:
        sys.exit(code)
