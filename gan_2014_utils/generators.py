"""A trained generator from what --weights names (a run folder, a best/ folder,
a .weights.h5 file or a checkpoint), told and checked before TensorFlow loads,
then built as the model that wrote it."""
import collections
import os
import tempfile
import zipfile

import numpy as np

from gan_2014_utils.files import file_sha256, h5_layout, kind_of
from gan_2014_utils.history import collapse_note
from gan_2014_utils.process import CheckpointError, UsageError, lazy, say
from gan_2014_utils.run_folder import CHECKPOINT, IMAGE_SHAPE_ATTR, image_shape_of, load_checkpoint, read_checkpoint

keras = lazy("keras")

WEIGHTS_WANTED = "pass a run folder, a best/ folder or a generator weights file (.weights.h5)"
Found = collections.namedtuple("Found", "kind path arch latent_dim image_shape")  # kind: "checkpoint" or "weights"


def read_run_checkpoint(weights, checkpoint, archs):
    """A run's checkpoint as a Found, its collapse said if it recorded one."""
    try:
        meta, _ = read_checkpoint(checkpoint, meta_only=True, choices={"arch": archs})
    except CheckpointError as e:
        where = f"its {CHECKPOINT}" if weights != checkpoint else "this checkpoint"
        raise UsageError(f"--weights {weights}: {where} is not usable ({e})") from None
    if meta["collapsed_since"] is not None:
        say(collapse_note(checkpoint, meta["collapsed_since"]))
    return Found("checkpoint", checkpoint, meta["arch"], meta["latent_dim"], image_shape_of(meta))


def is_checkpoint(path):
    """Whether a file is an .npz with a checkpoint's metadata (checked when it is read)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "meta.npy" in zf.namelist()
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def weights_in_folder(weights, archs):
    """A folder's generator.weights.h5, or the refusal that names the generator files it holds."""
    path = os.path.join(weights, "generator.weights.h5")
    if kind_of(path) != "file":
        try:
            names = os.listdir(weights)
        except OSError:
            names = []
        held = sorted(n for n in names if n.endswith(".weights.h5")
                      and generator_layout(os.path.join(weights, n), archs) is not None)
        raise UsageError(f"--weights {weights}: no {CHECKPOINT} or generator weights at {path}; "
                         + (f"it holds the generator file(s) {', '.join(held)}: pass one, as --weights "
                            f"{os.path.join(weights, held[0])}" if held else WEIGHTS_WANTED))
    return path


def describe_generator(weights, archs):
    """What a --weights PATH holds, read without TensorFlow: a Found. A run
    folder gives its last checkpoint (so an interrupted run works), as does a
    checkpoint file; a folder or file with generator.weights.h5 gives that file,
    whose first layer's shape tells the architecture and the latent size (every
    other layer is checked when the model is built, in load_generator)."""
    kind = kind_of(weights)
    if kind == "folder":
        checkpoint = os.path.join(weights, CHECKPOINT)
        if kind_of(checkpoint) == "file":
            return read_run_checkpoint(weights, checkpoint, archs)
        path = weights_in_folder(weights, archs)
    elif kind == "file" and is_checkpoint(weights):
        return read_run_checkpoint(weights, weights, archs)  # a checkpoint holds the generator too
    elif kind == "file":
        path = weights
    elif kind == "missing":
        raise UsageError(f"--weights {weights}: no such file or folder; " + WEIGHTS_WANTED)
    else:
        raise UsageError(f"--weights {weights}: not a regular file (a pipe, a device or a broken link); "
                         + WEIGHTS_WANTED)
    layout = generator_layout(path, archs)
    if layout is None:
        raise UsageError(f"--weights {path}: not a generator weights file of gan_2014 "
                         "(expected a generator.weights.h5 that training wrote)")
    if not recorded_by_its_run(path):
        say(f"gan_2014: note: {path} is not the file its run's checkpoint recorded (another run's, "
            "or an older copy of its own); what follows is about this file, not that run")
    return Found("weights", path, *layout)


def recorded_by_its_run(path):
    """False when `path` sits where a run keeps its weights (run/ or run/best/) and
    that run's checkpoint recorded another file there (RunFolder's record)."""
    folder, name = os.path.split(os.path.abspath(path))
    run_dir, key = (os.path.dirname(folder), f"best/{name}") if os.path.basename(folder) == "best" else (folder, name)
    try:
        files = read_checkpoint(os.path.join(run_dir, CHECKPOINT), meta_only=True)[0]["files"]
    except CheckpointError:
        return True  # no run's checkpoint there: nothing to compare with
    return key not in files or files[key] == file_sha256(path)


def generator_layout(path, archs):
    """(arch, latent_dim, image_shape) of a generator weights file, told by its
    first layer's shape and the image shape training kept beside the weights (a
    file from before it was kept is MNIST's), or None for any other file."""
    try:
        layout = h5_layout(path)
        kernel = layout["layers/dense/vars/0"]  # the first Dense layer: (latent_dim, units)
        import h5py  # comes with Keras
        with h5py.File(path, "r") as f:
            kept = f.attrs.get(IMAGE_SHAPE_ATTR)
    except Exception:
        return None
    units = {cls.first_layer: name for name, cls in archs.items()}
    if len(kernel) != 2 or kernel[1] not in units:
        return None
    shape = (28, 28, 1) if kept is None else tuple(int(n) for n in np.asarray(kept).reshape(-1))
    if len(shape) != 3 or min(shape) < 1 or shape[2] not in (1, 3):
        return None
    return units[kernel[1]], int(kernel[0]), shape


def load_generator(found, archs):
    """A model of the right class whose generator holds the weights that
    describe_generator found: every array of the file must be one of this
    generator's, of its shape, whatever the file is called."""
    gan = archs[found.arch](latent_dim=found.latent_dim, jit_compile=False, img_shape=found.image_shape)
    if found.kind == "checkpoint":
        try:
            load_checkpoint(gan, found.path, resuming=False)
        except CheckpointError as e:
            raise UsageError(f"--weights {found.path}: not usable ({e})") from None
    else:
        load_weights_file(gan, found)
    broken = next((v.path for v in gan.generator.weights if not np.isfinite(keras.ops.convert_to_numpy(v)).all()), None)
    if broken is not None:
        raise UsageError(f"--weights {found.path}: its generator's {broken} is not finite (its training diverged); "
                         "pass an earlier checkpoint or its run's best/")
    return gan


def load_weights_file(gan, found):
    """The generator's weights from a .weights.h5 file, every array checked against the model's."""
    with tempfile.TemporaryDirectory(prefix="gan_2014-") as tmp:
        reference = os.path.join(tmp, "reference.weights.h5")
        gan.generator.save_weights(reference)
        expected, layout = h5_layout(reference), h5_layout(found.path)
        if layout != expected:
            odd = sorted(set(layout.items()) ^ set(expected.items()))[0][0]
            raise UsageError(f"--weights {found.path}: its arrays are not those of the {found.arch} generator "
                             f"with latent size {found.latent_dim} (first difference: {odd}); it is not a "
                             "generator that gan_2014 wrote")
        # Keras reads a file as weights only under a name ending in .weights.h5
        # (any other .h5 is its legacy format): load ours through such a name.
        link = os.path.join(tmp, "generator.weights.h5")
        os.symlink(os.path.abspath(found.path), link)
        gan.generator.load_weights(link)
