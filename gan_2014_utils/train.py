"""The training command: its options, a new run's settings and a resumed
run's, every input checked before the model is built, then GAN.train."""
import os
import sys
import time
import uuid

from gan_2014_utils.data import load_data, monitor_digits, source_problem
from gan_2014_utils.evaluation import MONITOR_SAMPLES, heldout_monitor
from gan_2014_utils.files import TF_BASE, require_memory
from gan_2014_utils.history import collapse_note
from gan_2014_utils.options import (USAGE, Parser, count_or_zero, options_given, path_value, positive_int, random_seed,
                                    seed_value)
from gan_2014_utils import backend, events
from gan_2014_utils.process import UsageError, lazy, say
from gan_2014_utils.run_folder import CHANGEABLE, CHECKPOINT, FIXED, SETTINGS, RunFolder

keras = lazy("keras")


DESCRIPTION = (
    "Train the 2014 GAN on MNIST with the defaults of the article's GAN_2014.py (Keras-GAN's "
    "gan/gan.py, the script this one ports). An 'epoch' here is what gan.py calls one: a single "
    "minibatch iteration (discriminator on a real batch, on a fake batch, then the generator), "
    "not a pass over the data.")
EPILOG = (
    "other commands: `python gan_2014.py sample --help` (new digits from a trained "
    "generator; the paper's Figures 2 and 3), `python gan_2014.py evaluate --help` (the "
    "paper's Parzen-window figure and classifier figures) and `python gan_2014.py toy "
    "--help` (the paper's Figure 1 from a 1-D run). With --resume, the run's own settings are read "
    "from its run.json; only --epochs (to train further), the interval options and "
    "--eval-every may differ.")


def train_parser(d, archs):
    """`d`: gan_2014.py's defaults; `archs`: its models by --arch name."""
    p = Parser(prog="gan_2014.py", description=DESCRIPTION, usage=USAGE, epilog=EPILOG)
    p.add_argument("--epochs", type=positive_int, help=(
        "minibatch iterations to train, gan.py's 'epochs' "
        f"(default {d['epochs']}; 30000 x 32 digits is about 16 passes over 60,000)"))
    p.add_argument("--arch", choices=list(archs), help=(
        f"the model (default {d['arch']}): '{d['arch']}' is Keras-GAN's gan.py networks and loop; "
        "'paper' is the authors' released MNIST model (maxout discriminator, uniform noise, SGD with "
        "momentum, one joint update per iteration, training digits 0-49,999 as their mnist.yaml)"))
    p.add_argument("--batch-size", type=positive_int,
                   help=f"real and fake digits per step (default {archs[d['arch']].batch_size}; " + "; ".join(
                       f"{cls.batch_size} with --arch {name}" for name, cls in archs.items() if name != d["arch"]) + ")")
    p.add_argument("--sample-interval", type=positive_int,
                   help=f"save a 5x5 grid every this many iterations, and after the last (default {d['sample_interval']})")
    p.add_argument("--latent-dim", type=positive_int,
                   help=f"size of the generator's noise input (default {d['latent_dim']})")
    p.add_argument("--images", metavar="DIR", type=path_value,
                   help=f"folder for the grids <iteration>.png and progress.gif (default {d['images']}/)")
    p.add_argument("--run-dir", default=d["run_dir"], metavar="DIR", type=path_value, help=(
        f"folder for {SETTINGS}, history.csv, losses.png, {CHECKPOINT}, *.weights.h5 and best/ "
        f"(default {d['run_dir']}/)"))
    p.add_argument("--data", metavar="SOURCE", type=path_value, help=(
        "the images (default: MNIST, downloaded): a local .npz in the layout of Keras's mnist.npz; your own "
        "images as a folder of image files (subfolders too), or an .npy/.npz array (n, rows, cols[, 3]) of "
        "uint8; or a Keras data set by name: mnist, fashion_mnist, cifar10, cifar100. The networks take "
        "the images' size and colour"))
    p.add_argument("--seed", type=seed_value, help=(
        "random seed, 0 to 2**32-1: weights, minibatches and noise; the same "
        "seed gives the same losses on a CPU (default: drawn at random and printed)"))
    p.add_argument("--log-every", type=positive_int, metavar="N", help=(
        "print gan.py's log line every N iterations, also on a terminal "
        "(default: a progress bar on a terminal, else a line every --sample-interval)"))
    p.add_argument("--checkpoint-interval", type=positive_int, metavar="N",
                   help=f"write {CHECKPOINT} every N iterations and at the end (default {d['checkpoint_interval']})")
    p.add_argument("--eval-every", type=count_or_zero, metavar="N", help=(
        "every N iterations, the Parzen log-likelihood of held-out digits under "
        f"{MONITOR_SAMPLES:,} samples (history.csv, losses.png); the best generator so far goes to "
        "RUN_DIR/best/ (default 0: never; a few seconds each)"))
    p.add_argument("--g-loss", choices=d["g_losses"], help=(
        f"what the generator minimizes (default {d['g_loss']}): 'non-saturating' is -log D(G(z)), gan.py's "
        "labels 1 and the paper's advice (sec. 3); 'minimax' is log(1 - D(G(z))), the value function's "
        "own term, which saturates early in learning"))
    p.add_argument("--d-steps", type=positive_int, metavar="K", help=(
        f"discriminator updates, each on fresh minibatches, per generator update: Algorithm 1's k "
        f"(default {d['d_steps']}, as the paper); --arch paper's joint update has only 1"))
    p.add_argument("--train-on-batch", action="store_const", const=True, help=(
        "run each iteration as the article's three train_on_batch calls, as written: the reference form, "
        "about twice as slow (default: the same three Keras train steps as one compiled call)"))
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_const", const=False, help=(
        "write no TensorBoard events (default: in --run-dir, each iteration's losses, the grids and the "
        "settings, for tensorboard --logdir RUN_DIR)"))
    p.add_argument("--resume", action="store_true",
                   help=f"continue the run in --run-dir with the settings in its {SETTINGS}")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run even though --run-dir or --images holds another run's files")
    return p




def new_settings(args, d, archs):
    """A new run's settings: the options given, gan.py's defaults for the rest."""
    given = options_given(args, FIXED + CHANGEABLE)
    arch = given.get("arch", d["arch"])
    if not archs[arch].separate_d_steps and given.get("d_steps", 1) != 1:
        raise UsageError(f"--d-steps {given['d_steps']}: --arch {arch}'s update is the authors' joint step "
                         "(D and G from one forward pass, AdversaryCost2), with no separate D steps; "
                         f"drop --d-steps, or use --arch {d['arch']}")
    if not archs[arch].separate_d_steps and given.get("train_on_batch"):
        raise UsageError(f"--train-on-batch: --arch {arch}'s update is the authors' joint step, not the article's "
                         f"three train_on_batch calls; drop --train-on-batch, or use --arch {d['arch']}")
    settings = dict(arch=arch, latent_dim=d["latent_dim"], batch_size=archs[arch].batch_size, g_loss=d["g_loss"],
                    d_steps=d["d_steps"], seed=random_seed(), images=d["images"], epochs=d["epochs"],
                    sample_interval=d["sample_interval"], log_every=None,
                    checkpoint_interval=d["checkpoint_interval"], eval_every=d["eval_every"], train_on_batch=False,
                    tensorboard=True)
    settings.update(given)
    # Paths from the run folder: a moved or copied run finds its own files.
    settings["images"] = os.path.relpath(os.path.abspath(settings["images"]), os.path.abspath(args.run_dir))
    settings["run_id"] = uuid.uuid4().hex
    settings["data"] = None if args.data is None else os.path.relpath(os.path.abspath(args.data),
                                                                        os.path.abspath(args.run_dir))
    return settings


def check_sizes(settings, model_class, n_train, n_all, data_path):
    """Numbers that only the data and this machine can refuse."""
    if settings["batch_size"] > n_train:
        raise UsageError(f"--batch-size {settings['batch_size']} is larger than the {n_train} "
                         "training digits; pass a smaller --batch-size")
    if settings["eval_every"] and n_all < 2:
        raise UsageError(f"--eval-every needs at least 2 training digits to score (sigma on one, the "
                         f"estimate on another); {data_path} has {n_all}; pass --eval-every 0 or more digits")
    require_memory(f"--latent-dim {settings['latent_dim']}",  # the first layer, its gradient and optimizer slots
                   TF_BASE + 5 * 4 * settings["latent_dim"] * (model_class.first_layer + settings["batch_size"]),
                   "pass a smaller --latent-dim")
    require_memory(f"--batch-size {settings['batch_size']}",  # activations and gradients of the widest layers
                   TF_BASE + 40 * 4 * settings["batch_size"] * 1200,
                   "pass a smaller --batch-size")


def start_line(run, d, n_train, n_all, held_out, source, monitored):
    settings, start = run.settings, run.restored.iteration if run.restored else 0
    resumed = ""
    if run.resume:
        resumed = f", resuming from iteration {start}" if start else ", starting again (no checkpoint yet)"
        if start == settings["epochs"]:
            resumed = f", already at iteration {start}: writing its final weights and GIF"
    shape = settings.get("image_shape", [28, 28, 1])
    what = "digits" if shape == [28, 28, 1] else \
        f"{shape[1]}x{shape[0]} {'colour' if shape[2] == 3 else 'grey'} images"  # width x height
    return (f"gan_2014: arch {settings['arch']}, trains on {n_train:,} of the {n_all:,} training "
            f"{what} of {source}" + (f" ({held_out})" if held_out else "")
            + f", seed {settings['seed']}, {settings['epochs']} iterations of batch {settings['batch_size']}"
            + ("" if settings["g_loss"] == d["g_loss"] else f", G loss {settings['g_loss']}")
            + ("" if settings["d_steps"] == d["d_steps"] else f", {settings['d_steps']} D steps per G step")
            + (f", held-out estimate every {settings['eval_every']} on {monitored}" if monitored else "")
            + resumed)


def open_run(argv, context, d, archs):
    """Parse, and check every input before anything is written: the options, the
    data, the run folder (new, resumed or overwritten). Returns (run, its digits)."""
    args = train_parser(d, archs).parse_args(argv)
    context["run_dir"] = args.run_dir
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pass one")
    if args.data is not None and (problem := source_problem(args.data)):  # inputs before the folders' state
        raise UsageError(f"--data {args.data}: {problem}")
    settings = None if args.resume else new_settings(args, d, archs)  # a resumed run's are in its folder
    mnist = None if args.resume else load_data(args.data)  # a new run's data is an input too
    run = RunFolder.open(args, context, settings, choices={"arch": archs, "g_loss": d["g_losses"]})
    data_path = run.data_path(args.data)
    if args.data is None and data_path is not None and (problem := source_problem(data_path)):
        raise UsageError(f"{data_path}, the data file the run recorded (in {os.path.join(args.run_dir, SETTINGS)}): "
                         f"{problem}; pass --data FILE with the run's digits (it is checked by their sha256)")
    mnist = mnist or load_data(data_path)
    run.check_data(mnist, args.data)
    (x_all, _), _ = mnist
    model_class = archs[run.settings["arch"]]
    check_sizes(run.settings, model_class, model_class.training_digits(len(x_all))[0], len(x_all), data_path)
    backend.name()  # Keras and its backend imported (one that does not import is refused) before folders are made
    if run.settings["tensorboard"] and (problem := events.import_problem()):
        raise UsageError(problem)
    run.check_writes()
    return run, x_all, data_path or "keras.datasets.mnist"


def begin(run, gan, x_all, source, d):
    """After the model is built: the checkpoint restored into it, the held-out
    monitor, the start line and notes. Returns the clock's start."""
    settings, model_class = run.settings, type(gan)
    n_train, held_out = model_class.training_digits(len(x_all))
    restored = run.restore(gan)
    monitored = ""
    if settings["eval_every"]:
        x_sigma, x_scored, monitored = monitor_digits(x_all, n_train)
        run.monitor = heldout_monitor(x_sigma, x_scored)
    run.progress = sys.stdout.isatty() and settings["log_every"] is None
    say(start_line(run, d, n_train, len(x_all), held_out, source, monitored))
    if model_class.arch == "paper" and settings["batch_size"] != model_class.batch_size:
        print(f"gan_2014: note: the authors trained with batch {model_class.batch_size}, and mnist.yaml's learning "
              f"rate and momentum are set for it; batch {settings['batch_size']} is not their model's training",
              flush=True)
    if restored is not None and restored.collapsed_since is not None:
        say(collapse_note(run.path(CHECKPOINT), restored.collapsed_since))
    return time.perf_counter()


def done(run, started):
    say(f"gan_2014: done in {time.perf_counter() - started:.0f} s; grids in {run.images}/, "
        f"history, checkpoint and weights in {run.dir}/"
        + (f"; to watch it: tensorboard --logdir {run.dir}" if run.settings["tensorboard"] else ""))
