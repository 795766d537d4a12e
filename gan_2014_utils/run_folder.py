"""A run's two folders: RunFolder checks them, and everything it would
continue, before anything is written, and keeps the run's settings (run.json);
a recorder.Recorder then writes every file of the training. The checkpoint's file
format (an .npz of the model's state_variables() and a JSON record) is here too."""
import collections
import contextlib
import json
import math
import os

import numpy as np

from gan_2014_utils import backend, events
from gan_2014_utils.data import data_digest
from gan_2014_utils.files import atomic_write, check_writable_dir, file_sha256, kind_of, lock_folder, read_npz, \
    BadFile, still_locked, write_text
from gan_2014_utils.images import KERAS_DATASETS, image_shape, is_keras_dataset
from gan_2014_utils.history import COLUMN, HISTORY, read_history, rows_digest
from gan_2014_utils.options import flag, options_given
from gan_2014_utils.pictures import GIF, OWNER, grid_files, grid_owner, is_grid_name
from gan_2014_utils.process import CheckpointError, FolderGone, FolderInUse, Stopped, UsageError, lazy, say

keras = lazy("keras")

CHECKPOINT, SETTINGS = "checkpoint.npz", "run.json"
FINAL_WEIGHTS = ("generator.weights.h5", "discriminator.weights.h5")
BEST_FILES = ("generator.weights.h5", "best.json")
RUN_FILES = (SETTINGS, CHECKPOINT, HISTORY, "losses.png") + FINAL_WEIGHTS
# Settings a run keeps for life, and those a resumed run may change; IDENTITY: the
# fields of run.json that must equal the copy in the run's checkpoint (the grid
# folder and data path are where the run's files are now: a moved run may change them).
FIXED = ("arch", "latent_dim", "batch_size", "seed", "images", "g_loss", "d_steps", "train_on_batch", "tensorboard")
CHANGEABLE = ("epochs", "sample_interval", "log_every", "checkpoint_interval", "eval_every")
IDENTITY = ("run_id", "arch", "latent_dim", "batch_size", "seed", "g_loss", "d_steps", "train_on_batch",
            "data_sha256")
IMAGE_SHAPE_ATTR = "gan_2014_image_shape"  # in a .weights.h5 file: (rows, cols, channels) of its images
OTHER_RUN = "start a new run with --overwrite (deletes this one) or another --run-dir"


def under(run_dir, path):
    """A path the run keeps, relative to its run folder (so that a moved or copied
    run finds its own files), as a path from here; an absolute one as it is."""
    return os.path.normpath(os.path.join(run_dir, path))


# -----------------------------------------------------------------------------
# The records a run keeps (run.json, a checkpoint's metadata), checked one way

def count(low):
    return lambda v: type(v) is int and v >= low


def text(v):
    return isinstance(v, str) and bool(v)


def number(v):
    return type(v) in (int, float) and math.isfinite(v)


def first_invalid(record, checks, optional=()):
    """The first field of `record` that is missing (and not optional) or not of its kind; None if all are good."""
    for key, ok in checks.items():
        if not (ok(record[key]) if key in record else key in optional):
            return key
    return None


def setting_checks(choices):
    """run.json's fields; `choices` ({"arch": names, "g_loss": names}) what a command line could have chosen."""
    one_of = lambda key: lambda v: text(v) and (key not in choices or v in choices[key])
    return {"arch": one_of("arch"), "latent_dim": count(1), "batch_size": count(1),
            "seed": lambda v: type(v) is int and 0 <= v < 2 ** 32, "images": text, "run_id": text,
            "data": lambda v: v is None or isinstance(v, str), "data_sha256": lambda v: isinstance(v, str),
            "epochs": count(1), "sample_interval": count(1), "log_every": lambda v: v is None or count(1)(v),
            "checkpoint_interval": count(1), "eval_every": count(0), "g_loss": one_of("g_loss"),
            "d_steps": count(1), "checkpointed": lambda v: type(v) is bool,
            "train_on_batch": lambda v: type(v) is bool,  # optional: the default form where absent
            "tensorboard": lambda v: type(v) is bool,     # optional: no events where absent (a run from before)
            "backend": text}  # optional: the Keras backend it last trained on (tensorflow before it was kept)


def checked_settings(settings, choices):
    """The settings if every one is there and of its kind; else why not."""
    if not isinstance(settings, dict):
        return None, "not a record of settings"
    bad = first_invalid(settings, setting_checks(choices), optional=("train_on_batch", "backend", "tensorboard"))
    if bad:
        return None, f"no valid {bad!r}"
    settings.setdefault("train_on_batch", False)  # a run from before the option trains as runs do by default
    settings.setdefault("tensorboard", False)     # and one from before the events goes on without them
    return settings, None


def checkpoint_checks(choices):
    """A checkpoint's metadata; run_id, settings and first_row are a command-line run's."""
    return {"arch": lambda v: text(v) and ("arch" not in choices or v in choices["arch"]),
            "latent_dim": count(1), "iteration": count(0), "elapsed": lambda v: number(v) and v >= 0,
            "best": lambda v: v is None or (isinstance(v, list) and len(v) == 2 and type(v[0]) is int
                                            and number(v[1])),
            "collapsed_since": lambda v: v is None or count(1)(v),
            "files": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(h, str)
                                                           for k, h in v.items()),
            "run_id": text, "settings": lambda v: isinstance(v, dict), "backend": text,
            "image_shape": lambda v: isinstance(v, list) and len(v) == 3 and all(count(1)(n) for n in v) and
            v[2] in (1, 3),
            "first_row": lambda v: isinstance(v, list) and len(v) == 5 and all(type(x) in (int, float) for x in v)}


# -----------------------------------------------------------------------------
# The checkpoint: the model's state_variables() and the run's record, in one .npz

Restored = collections.namedtuple("Restored", "iteration elapsed fixed_noise best collapsed_since")


def network_variables(*models):
    """The networks' variables keyed by where they sit in their model (model,
    layer position and kind, variable), so a key is the same in every process
    and on every backend; BatchNorm's statistics and Dropout's seeds included."""
    return {f"{model.name}/{i}-{type(layer).__name__}/{v.name}": v
            for model in models for i, layer in enumerate(model.layers) for v in layer.variables}


def optimizer_variables(name, optimizer, weights):
    """A Keras optimizer's step count and slots (Adam's momentum and velocity),
    keyed by the weight each belongs to (Keras names a slot by its weight's path)."""
    slots = {v.name: v for v in optimizer.variables}
    state = {f"{name}/iteration": optimizer.iterations}
    for key, w in weights.items():
        for kind in ("momentum", "velocity"):
            slot = slots.get(f"{w.path.replace('/', '_')}_{kind}")
            if slot is not None:
                state[f"{name}/{key}/{kind}"] = slot
    return state


def is_random_state(key):
    """A random generator's state among a model's state_variables(): its stream's and its Dropout layers'."""
    return key == "rng" or key.endswith("/seed_generator_state")


def image_shape_of(meta):
    """A checkpoint's image shape (rows, cols, channels): MNIST's where it was not kept (older runs)."""
    return tuple(meta.get("image_shape", (28, 28, 1)))


def write_checkpoint(gan, path, iteration, elapsed, fixed_noise, best, saved_at=None, **record):
    """The model's state and `record` (what the run folder keeps with it: its run
    id and settings, the files it wrote) in one .npz."""
    arrays = {k: keras.ops.convert_to_numpy(v) for k, v in gan.state_variables().items()}
    # The losses are computed before an update; the weights are checked here,
    # so a checkpoint called good never holds an update that broke them.
    broken = next((k for k, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()), None)
    if broken is not None:
        raise Stopped(f"training diverged by iteration {iteration} ({broken} is not finite)",
                      iteration, iteration if saved_at is None else saved_at, 1)
    meta = json.dumps({"arch": gan.arch, "latent_dim": gan.latent_dim, "image_shape": list(gan.img_shape),
                       "iteration": iteration,
                       "elapsed": elapsed, "best": None if best is None else list(best),
                       "backend": backend.name(), **record})
    atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(meta), fixed_noise=fixed_noise, **arrays),
                 needs=sum(a.nbytes for a in arrays.values()))


def read_checkpoint(path, meta_only=False, choices=None):
    """(meta, arrays) of a checkpoint, or CheckpointError saying what is wrong with it.
    With meta_only, the arrays' headers are checked but only the metadata is read."""
    try:
        arrays = read_npz(path, only={"meta"} if meta_only else None)
    except BadFile as e:
        raise CheckpointError(str(e)) from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        raise CheckpointError("its metadata is missing or not JSON") from None
    if not isinstance(meta, dict):
        raise CheckpointError("its metadata is not a record")
    bad = first_invalid(meta, checkpoint_checks(choices or {}),
                        optional=("run_id", "settings", "first_row", "backend", "image_shape"))
    if bad:
        raise CheckpointError(f"its metadata has no valid {bad!r} ({meta.get(bad)!r})")
    return meta, arrays


def load_checkpoint(gan, path, resuming=True):
    """Restore a checkpoint into `gan`, every array checked first; returns a Restored.
    `resuming`: say so in one line when the run moves to another backend."""
    meta, arrays = read_checkpoint(path)
    if meta["arch"] != gan.arch or meta["latent_dim"] != gan.latent_dim:
        raise CheckpointError(f"it is for arch {meta['arch']} with latent size {meta['latent_dim']}, "
                              f"not arch {gan.arch} with {gan.latent_dim}")
    if tuple(image_shape_of(meta)) != tuple(gan.img_shape):
        raise CheckpointError(f"it is for images of shape {tuple(image_shape_of(meta))}, not {tuple(gan.img_shape)}")
    variables = gan.state_variables()
    for key in sorted(set(variables) ^ (set(arrays) - {"fixed_noise"})):
        raise CheckpointError(f"array {key} is " + ("missing" if key in variables else "not this model's"))
    moved = meta.get("backend", "tensorflow") != backend.name()
    for i, (key, v) in enumerate(sorted(variables.items())):
        a, want = arrays[key], np.dtype(v.dtype)
        if moved and is_random_state(key):
            # Each backend has its own random generator (and its state's dtype): the
            # stream goes on as the new backend's, from the run's seed and iteration.
            a = arrays[key] = np.array([np.random.default_rng([meta.get("settings", {}).get("seed", 0),
                                                               meta["iteration"], i]).integers(1, 2 ** 31 - 1), 0],
                                       want)
        elif a.dtype != want and a.dtype.kind in "iu" and want.kind in "iu" and a.size and \
                np.iinfo(want).min <= a.min() and a.max() <= np.iinfo(want).max:
            a = arrays[key] = a.astype(want)  # a counter kept in another backend's integer width
        if a.shape != tuple(v.shape) or a.dtype != want:
            raise CheckpointError(f"array {key} is {a.dtype} {a.shape}, this model's is "
                                  f"{want} {tuple(v.shape)}")
    noise = arrays.get("fixed_noise")
    if not isinstance(noise, np.ndarray) or noise.shape != (25, gan.latent_dim) or noise.dtype != np.float32 \
            or not np.isfinite(noise).all():
        raise CheckpointError(f"fixed_noise is not 25 finite float32 latent points of size {gan.latent_dim}")
    gan.load_state(arrays)
    if moved and resuming:
        say(f"gan_2014: {path} was written on {meta.get('backend', 'tensorflow')} and is read on {backend.name()}: "
            "weights, optimizer state, iteration and the grids' noise carried; the random stream from here "
            f"is {backend.name()}'s")
    best = None if meta["best"] is None else (int(meta["best"][0]), float(meta["best"][1]))
    return Restored(meta["iteration"], meta["elapsed"], noise, best, meta["collapsed_since"])


def save_weights(gan, folder, models=None):
    """Networks in Keras's own .weights.h5 format, for `sample` and `evaluate`."""
    os.makedirs(folder, exist_ok=True)
    def write(model, tmp):
        model.save_weights(tmp)
        import h5py  # comes with Keras: the image shape beside the weights, for sample and evaluate
        with h5py.File(tmp, "a") as f:
            f.attrs[IMAGE_SHAPE_ATTR] = np.asarray(gan.img_shape, np.int64)
    for model in models or (gan.generator, gan.discriminator):
        atomic_write(os.path.join(folder, f"{model.name}.weights.h5"), lambda tmp, m=model: write(m, tmp))


# -----------------------------------------------------------------------------
# A run's settings: run.json, or what a resumed run's command line gives

def event_files(run_dir):
    """TensorBoard's event files in a run folder (any program's: TensorBoard would show them as the run's)."""
    return sorted(n for n in os.listdir(run_dir) if events.is_events_name(n)) if os.path.isdir(run_dir) else []


def refuse_other_run(run_dir):
    """A new run (without --overwrite) refuses a folder that holds any run's files."""
    found = [n for n in RUN_FILES + ("best",) if os.path.lexists(os.path.join(run_dir, n))] + event_files(run_dir)
    if {SETTINGS, CHECKPOINT} & set(found):
        raise UsageError(f"{run_dir}/ already holds a run; pass --resume to continue it, --overwrite "
                         "to replace it, or another --run-dir")
    if found:
        raise UsageError(f"{run_dir}/ holds a run's files ({', '.join(found)}) but nothing to resume "
                         "from; pass --overwrite to replace them, or another --run-dir")


def read_settings(run_dir, choices):
    """The run's settings from its run.json or, when that is missing or damaged,
    from the copy its checkpoint holds (then run.json is written again)."""
    path, checkpoint = os.path.join(run_dir, SETTINGS), os.path.join(run_dir, CHECKPOINT)
    try:
        with open(path, encoding="utf-8") as f:
            settings, why = checked_settings(json.loads(f.read(100000)), choices)
    except FileNotFoundError:
        settings, why = None, "missing"
    except (OSError, ValueError) as e:
        settings, why = None, f"unreadable ({getattr(e, 'strerror', None) or type(e).__name__})"
    if settings is not None:
        return settings
    try:
        meta = read_checkpoint(checkpoint, meta_only=True)[0] if kind_of(checkpoint) == "file" else {}
    except CheckpointError:
        meta = {}
    copy, _ = checked_settings(meta.get("settings"), choices)
    if copy is not None and copy["run_id"] == meta.get("run_id"):
        print(f"gan_2014: {path} is {why}; the run's settings come from its checkpoint", flush=True)
        return copy
    if why == "missing" and kind_of(checkpoint) == "missing":
        raise UsageError(f"--resume: {run_dir}/ holds no run ({SETTINGS} and {CHECKPOINT} are missing); "
                         "start a new run without --resume, or pass the run's --run-dir")
    raise UsageError(f"--resume: {path} is {why} and its checkpoint has no copy of them (damaged, or not "
                     f"a command-line run's); put back a copy of the run's {SETTINGS}, or {OTHER_RUN}")

def given_settings(args, settings, run_dir):
    """What a resumed run takes from the command line: an option given again
    must agree with the run's, except those a resumed run may change."""
    given, changed = options_given(args, FIXED + CHANGEABLE), {}
    for key, value in given.items():
        recorded = settings[key]
        if key == "images":
            value, recorded = os.path.abspath(value), os.path.abspath(under(run_dir, recorded))
            if value != recorded and grid_owner(value) == settings["run_id"]:  # the run's grids, moved
                changed["images"] = os.path.relpath(value, os.path.abspath(run_dir))
                continue
        if key in FIXED and value != recorded:
            given = flag(key) if isinstance(value, bool) else f"{flag(key)} {value}"  # --no-tensorboard
            raise UsageError(f"{given} conflicts with the run's {key} {recorded} " if isinstance(value, bool) else
                             f"{given} conflicts with the run's {recorded} "
                             f"(from {os.path.join(run_dir, SETTINGS)}); drop {flag(key)} "
                             "to keep the run's, or start a new run")
    return {**{k: v for k, v in given.items() if k in CHANGEABLE}, **changed}


# -----------------------------------------------------------------------------
# The run folder

class RunFolder:
    """A run's folders, `run_dir` (run.json, history.csv, losses.png, the
    checkpoint, the final weights, best/) and `images` (the grids and the GIF),
    checked before the run writes anything there (then recorder.Recorder
    writes every file).

    Which files are this run's is decided one way: each checkpoint records every
    file the run has written, with its sha256 (`files` in its metadata; for
    history.csv, a sha256 of its rows up to the checkpoint; for an event file,
    its length and the sha256 of its bytes up to it). On --resume a file
    that does not match is not this run's, whoever wrote it and whenever, and is
    refused in one line that names it; what the run rebuilds itself (losses.png,
    progress.gif, grids, rows and events past the checkpoint, a lost run.json) is rebuilt.
    run.json is compared field by field with the checkpoint's own copy.

    `settings` is run.json's for a command-line run; a run made in Python may
    give only some: log_every (default: with each grid), checkpoint_interval
    (default: a checkpoint only at the end and on a signal), eval_every."""

    def __init__(self, run_dir, images, settings=None, monitor=None, progress=False, choices=None):
        self.dir, self.images = run_dir, images
        self.settings = dict(settings or {})
        self.monitor, self.progress = monitor, progress    # monitor(gan): a held-out (ll, se, sigma)
        self.choices = choices or {}                       # what run.json's arch and g_loss may name
        self.locks, self.resume, self.overwrite, self.fix = [], False, False, "move it away and try again"
        self.meta, self.restored = None, None  # the checkpoint to continue, its metadata and Restored state
        self.images_lost = False

    def path(self, key):
        """A file's key (as the checkpoint records it) -> its path: 'images/...' is in the grid folder."""
        return os.path.join(self.images, key[7:]) if key.startswith("images/") else os.path.join(self.dir, key)

    # --- opening: every check, before anything is written ---

    @classmethod
    def open(cls, args, context, settings=None, choices=None):
        """The folder of a new run with `settings` (refusing one that holds another
        run), or of the run to --resume (its settings from run.json, every file
        checked against its checkpoint). Only the locks are taken here."""
        if args.resume and kind_of(args.run_dir) != "folder":
            raise UsageError(f"--resume: no run folder {args.run_dir}/; start a new run without --resume, "
                             "or pass the run's --run-dir")
        locks = context["locks"] = []
        fix = "move it away and --resume again" if args.resume else "move it away and try again"
        if args.resume:
            try:  # before reading the run: nobody else writes it now
                locks.append(lock_folder(args.run_dir, fix))
            except FolderInUse as e:  # another --run-dir or --images would be another run, not this one
                raise UsageError(f"{e}; wait for it to finish, then --resume again") from None
            settings = read_settings(args.run_dir, choices or {})
            settings.update(given_settings(args, settings, args.run_dir))
        elif not args.overwrite:
            refuse_other_run(args.run_dir)
        run = cls(args.run_dir, under(args.run_dir, settings["images"]), settings, choices=choices)
        run.locks, run.resume, run.overwrite, run.fix = locks, args.resume, args.overwrite, fix
        run.images_lost = args.resume and not os.path.isdir(run.images)  # said when training begins
        if args.resume:
            run.check_output_paths()
            run.check_resumable()
        return run

    def check_output_paths(self):
        """Every path the run writes is absent or of the right kind (a file where a
        file goes, a folder where a folder goes): checked before anything is removed,
        made or trained, so that a wrong one costs nothing."""
        described = {"folder": "a folder", "other": "not a regular file (a pipe, a device or a broken link)"}
        best = os.path.join(self.dir, "best")
        if kind_of(best) not in ("missing", "folder"):
            raise UsageError(f"{best}: {described.get(kind_of(best), 'a file')} where the run keeps its best "
                             f"generator's folder; {self.fix}")
        files = [os.path.join(self.dir, n) for n in RUN_FILES + ("crash.log", ".lock") + tuple(event_files(self.dir))]
        files += [os.path.join(best, n) for n in BEST_FILES]
        if os.path.isdir(self.images):
            files += [os.path.join(self.images, n) for n in (GIF, OWNER, ".lock")]
            files += [os.path.join(self.images, n) for n in sorted(os.listdir(self.images)) if is_grid_name(n)]
        for path in files:
            kind = kind_of(path)
            if kind not in ("missing", "file"):
                raise UsageError(f"{path}: {described[kind]} where the run writes a file; {self.fix}")

    def check_resumable(self):
        """Everything --resume continues must be this run's: the checkpoint (its run
        id), run.json (field by field against the checkpoint's copy), and every file
        the checkpoint recorded. A missing checkpoint is refused when the run had
        written one (starting again is right only before the first)."""
        checkpoint, settings = self.path(CHECKPOINT), self.settings
        if kind_of(checkpoint) != "file":
            if settings["checkpointed"]:
                last = read_history(self.path(HISTORY), upto=2 ** 62)
                reached = f" (its history reaches iteration {last[-1][0]})" if last else ""
                raise UsageError(f"--resume: {checkpoint} is missing, but this run had written one{reached}; put "
                                 f"it back, or {OTHER_RUN}")
            self.check_events(0, {})
            return None
        try:
            meta, _ = read_checkpoint(checkpoint, meta_only=True)
        except CheckpointError as e:
            raise UsageError(f"{checkpoint}: {e}; put back a whole copy of it, or {OTHER_RUN}") from None
        self.check_identity(checkpoint, meta)
        self.check_history(meta)
        self.check_files(meta)
        self.check_events(meta["iteration"], meta["files"])
        self.meta, start = meta, meta["iteration"]
        if start > settings["epochs"] or (start == settings["epochs"] and self.finished(meta)):
            raise UsageError(f"{checkpoint} is at iteration {start}, which already reaches --epochs "
                             f"{settings['epochs']}; pass a larger --epochs to train further")

    def check_identity(self, checkpoint, meta):
        """The checkpoint is this run's (its run id) and run.json says what its copy of the settings says."""
        settings = self.settings
        other = f"put back this run's own, or {OTHER_RUN}"
        rebuild = f"remove {SETTINGS} and --resume again (it is rebuilt from the checkpoint)"
        if meta.get("run_id") != settings["run_id"]:
            theirs = f"run id {meta['run_id'][:8]}" if "run_id" in meta else "no run id"
            raise UsageError(f"{checkpoint} belongs to another run ({theirs}, this run is "
                             f"{settings['run_id'][:8]}); {other}; or, if {SETTINGS} was edited, {rebuild}")
        copy = meta.get("settings") or {}
        for key in (k for k in IDENTITY if k in copy and copy[k] != settings[k]):
            raise UsageError(f"{self.path(SETTINGS)}: its {key} {settings[key]!r} is not the run's {copy[key]!r} "
                             f"(recorded in {CHECKPOINT}); put back {copy[key]!r}, or {rebuild}")
        if (meta["arch"], meta["latent_dim"]) != (settings["arch"], settings["latent_dim"]):
            raise UsageError(f"{checkpoint} is for arch {meta['arch']} with latent size {meta['latent_dim']}, "
                             f"but {SETTINGS} says arch {settings['arch']} with {settings['latent_dim']}; " + other)

    def check_history(self, meta):
        path, start = self.path(HISTORY), meta["iteration"]
        rows = read_history(path, upto=start)
        fix = ("put back this run's own, or move it away and --resume again (the run goes on without its "
               "earlier rows)")
        first = slice(COLUMN["d_loss_real"], COLUMN["seconds"])  # the first row's losses and accuracy
        if "first_row" in meta and rows and rows[0][0] == 1 and rows[0][first] != meta["first_row"]:
            raise UsageError(f"{path} belongs to another run (its first row is not the one this run's checkpoint "
                             "recorded); " + fix)
        recorded = meta["files"].get(HISTORY)
        if recorded and kind_of(path) == "file" and rows_digest(rows).hexdigest() != recorded:
            last = rows[-1][0] if rows else 0
            why = ("none of its lines is a row of this program's history (other columns, or damaged)" if not last
                   else f"it ends at iteration {last}, older than the checkpoint's {start}" if last < start
                   else "its rows are not those the checkpoint recorded")
            raise UsageError(f"{path} is not this run's history ({why}); " + fix)

    def check_files(self, meta):
        """Each grid up to the checkpoint's iteration must be the one it recorded: the
        run does not write those again. (What it does write again is set aside in
        `rebuild` when it is not as recorded.)"""
        self.claim_images(check_only=True)  # a grid folder marked as another run's: named as such
        if not os.path.isdir(self.images):
            return
        for name in sorted(os.listdir(self.images), key=lambda n: (len(n), n)):
            key = f"images/{name}"
            if is_grid_name(name) and int(name[:-4]) <= meta["iteration"] and \
                    file_sha256(self.path(key)) != meta["files"].get(key):
                raise UsageError(f"{self.path(key)} is not this run's (not the file its checkpoint recorded: "
                                 f"another run's, or an older copy); move {self.path(key)} away and --resume "
                                 "again (the run goes on without it)")

    def check_events(self, start, recorded):
        """Each event file the checkpoint recorded holds the bytes it recorded (a
        killed run's tail past them is cut when training begins); this run's
        others started at or after the checkpoint (they are removed then); any
        other would show in TensorBoard as this run's, and is refused."""
        run_id = self.settings["run_id"][:8]
        for name in event_files(self.dir):
            path, record = self.path(name), events.parse_record(recorded.get(name, ""))
            if record is not None:
                if events.prefix_sha256(path, record[0]) != record[1]:
                    raise UsageError(f"{path} is not this run's TensorBoard events (not the {record[0]} bytes its "
                                     "checkpoint recorded); move it away and --resume again (TensorBoard then "
                                     "shows the run from here on)")
            elif events.owner(name) != run_id or events.start_of(name) < start:
                raise UsageError(f"{path}: TensorBoard events that are not this run's (its checkpoint did not record "
                                 "them), which TensorBoard would show as the run's; move it away and --resume again")

    def finished(self, meta):
        """Whether the final weights are there and are the run's (recorded by its last checkpoint)."""
        return all(kind_of(self.path(w)) == "file" and file_sha256(self.path(w)) == meta["files"].get(w)
                   for w in FINAL_WEIGHTS)

    def check_data(self, mnist, data_arg):
        """A resumed run must see the digits it started with (by their sha256, wherever the file is now)."""
        digest = data_digest(mnist)
        if self.resume and digest != self.settings["data_sha256"]:
            raise UsageError(f"--data {self.data_path(data_arg) or 'keras.datasets.mnist'}: its digits (sha256 "
                             f"{digest}) are not the run's (sha256 {self.settings['data_sha256']}, "
                             f"{self.settings['data'] or 'downloaded'}); pass the run's data file")
        self.settings["data_sha256"] = digest
        self.settings["image_shape"] = list(image_shape(mnist[0][0]))  # gan.py's img_shape
        if is_keras_dataset(data_arg):
            self.settings["data"] = data_arg  # a Keras data set, by its name
        elif data_arg is not None:  # where the run's digits are now, from its folder
            self.settings["data"] = os.path.relpath(os.path.abspath(data_arg), os.path.abspath(self.dir))

    def data_path(self, data_arg):
        """--data, else the data file the run recorded (found from its folder), else None (the download)."""
        if data_arg is not None or self.settings.get("data") is None:
            return data_arg
        if self.settings["data"] in KERAS_DATASETS:
            return self.settings["data"]
        return under(self.dir, self.settings["data"])

    def check_writes(self):
        """The folders can be written and hold nothing of the wrong kind or of
        another run; then a new run's folders are made and locked."""
        self.check_output_paths()  # a wrong kind of file where one goes, named first
        self.claim_images(check_only=True)
        for folder, option in ((self.dir, "--run-dir"), (self.images, "--images")):
            check_writable_dir(folder, option, self.fix if self.resume else None)
        if not self.resume:
            check_writable_dir(self.dir, "--run-dir", make=True)
            self.locks.append(lock_folder(self.dir, self.fix))
            if not self.overwrite:
                refuse_other_run(self.dir)  # again, under the lock: another start may have come in between
        check_writable_dir(self.images, "--images", make=True)
        if os.path.realpath(self.images) != os.path.realpath(self.dir):
            try:
                self.locks.append(lock_folder(self.images, self.fix))
            except FolderInUse as e:
                if not self.resume:
                    raise
                raise UsageError(f"{e}; wait for it to finish, then --resume again") from None

    def claim_images(self, check_only=False):
        """The grid folder is the run's: another run's grids there (by its mark) are
        refused, or removed with --overwrite, so that no folder mixes two runs'
        grids. A resumed run whose folder lost its mark takes the folder its
        run.json names as its own (its grids are checked against the checkpoint)."""
        images, run_id = self.images, self.settings["run_id"]
        if not os.path.isdir(images):
            return
        owner = grid_owner(images)
        theirs = grid_files(images) if owner != run_id and not (self.resume and owner is None) else []
        if theirs and (self.resume or not self.overwrite or owner is None):
            # --overwrite removes only what a run's mark says is a run's
            fix = "move them away and --resume again" if self.resume else \
                "move them away or pass another --images" if owner is None else \
                "pass --overwrite to replace them or another --images"
            whose = "another run's grids" if owner is not None or self.resume else "files named as a run's grids"
            raise UsageError(f"--images {images}: holds {whose} ({len(theirs)} files such as "
                             f"{sorted(theirs)[0]}); {fix}")
        if check_only:
            return
        for name in theirs:
            os.remove(os.path.join(images, name))
        if owner != run_id:
            atomic_write(os.path.join(images, OWNER), lambda tmp: write_text(tmp, run_id))

    def restore(self, gan):
        """Load the checkpoint to continue into `gan` (whole and this model's, or refused)."""
        if self.meta is not None:
            self.restored = load_checkpoint(gan, self.path(CHECKPOINT))
        return self.restored

    def remove_old_run(self):
        """What --overwrite removes from a run folder before a new run: the old run's files."""
        names = RUN_FILES + ("crash.log",) + tuple(os.path.join("best", n) for n in BEST_FILES)
        for name in names + tuple(event_files(self.dir)):
            if os.path.isfile(self.path(name)):
                os.remove(self.path(name))
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(self.dir, "best"))  # only if nothing else is in it

    def write_settings(self):
        atomic_write(self.path(SETTINGS), lambda tmp: write_text(tmp, json.dumps(self.settings, indent=1)))

    def guard(self):
        """Another run may own the folder's path now (it was removed or replaced): write nothing more there."""
        for path, _ in (lock for lock in self.locks if not still_locked(lock)):
            raise FolderGone(f"{os.path.dirname(path)}/ was removed or replaced while this run trained "
                             "(its lock file is not this process's); stopped without writing anything more")

