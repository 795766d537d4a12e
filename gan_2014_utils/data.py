"""The training images: MNIST from Keras's download or a local .npz in its
layout, or your own (images.py), checked; and which images score a generator
(the authors' held-out split where the data has it)."""
import hashlib

import numpy as np

from gan_2014_utils.files import BadFile, file_problem, kind_of, read_npz
from gan_2014_utils.images import (KERAS_DATASETS, check_images, download_failure, is_keras_dataset,
                                   load_keras_dataset, one_array, read_folder, read_npy)
from gan_2014_utils.process import UsageError, lazy

keras = lazy("keras")

SIGMA_DIGITS = 1000   # digits that choose the Parzen window's sigma: the authors' 50,000-50,999


def unit_pixels(x):
    """uint8 digits -> float32 pixels in [0, 1], as the Parzen windows and the classifier see them."""
    return x.astype(np.float32) / 255.0


def check_keras_layout(path, arrays):
    """Keras's layout (as its mnist.npz): x_train, and optionally y_train, x_test, y_test; images
    by images.check_images's rules, labels (where given) integers, one per image."""
    for key in ("x_train", "x_test"):
        if key in arrays:
            arrays[key] = check_images(arrays[key], f"{path} ({key})")
    for split in ("train", "test"):
        x, y = arrays.get("x_" + split), arrays.get("y_" + split)
        if y is None:
            continue
        if x is None or y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise UsageError(f"--data {path}: y_{split} is {y.dtype} of shape {y.shape}; "
                             f"expected integer labels, one per image of x_{split}")
    if "y_train" in arrays and "y_test" in arrays and is_mnist_shaped(arrays["x_train"]):
        for split in ("train", "test"):
            y = arrays["y_" + split]
            if len(y) and (y.min() < 0 or y.max() > 9):
                raise UsageError(f"--data {path}: y_{split} holds labels from {y.min()} to {y.max()}; "
                                 "MNIST's labels are the digits 0-9")


def is_mnist_shaped(x):
    return x is not None and x.shape[1:] == (28, 28)


def source_problem(source):
    """Why --data SOURCE cannot be read (missing, a pipe...), or None: checked before the folders' state."""
    if is_keras_dataset(source) or kind_of(source) == "folder":
        return None
    problem = file_problem(source)
    if problem == "no such file":
        return (f"no such file or folder (and not one of Keras's data sets: {', '.join(KERAS_DATASETS)})")
    return problem


def load_data(source=None):
    """Images as `keras.datasets.mnist.load_data()` returns them: ((x_train,
    y_train), (x_test, y_test)), x uint8 (n, rows, cols) grey or (n, rows, cols, 3)
    colour; a label or test array that the data lacks is None.

    `source`: None (Keras's MNIST, downloaded); an .npz in Keras's layout
    (x_train, y_train, x_test, y_test: MNIST's own file) or with one array of
    images; an .npy of images; a folder of image files; or the name of a Keras
    data set (mnist, fashion_mnist, cifar10, cifar100). Each is checked here, so
    that a wrong one fails with a clear message rather than deep inside a step."""
    if source is None:
        try:
            return keras.datasets.mnist.load_data()
        except Exception as e:  # get_file wraps every network failure in a bare Exception
            raise UsageError(f"could not download MNIST ({download_failure(e)}); "
                             "pass --data FILE with a local copy of Keras's mnist.npz") from None
    problem = source_problem(source)
    if problem:
        raise UsageError(f"--data {source}: {problem}")
    if is_keras_dataset(source):
        return load_keras_dataset(source)
    if kind_of(source) == "folder":
        return (read_folder(source), None), (None, None)
    if source.lower().endswith(".npy"):
        return (read_npy(source), None), (None, None)
    try:
        arrays = read_npz(source)
    except BadFile as e:
        raise UsageError(f"--data {source}: {e}") from None
    if "x_train" not in arrays:
        return (one_array(source, arrays), None), (None, None)
    check_keras_layout(source, arrays)
    return (arrays["x_train"], arrays.get("y_train")), (arrays.get("x_test"), arrays.get("y_test"))


def data_digest(mnist):
    """A short sha256 of the arrays themselves: the same digits under another name match."""
    h = hashlib.sha256()
    for a in (a for pair in mnist for a in pair if a is not None):
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def sigma_digits(n):
    """The training digits that choose `evaluate`'s sigma: (slice, what they are)."""
    if n >= 50000 + SIGMA_DIGITS:  # the authors' held-out digits
        return slice(50000, 50000 + SIGMA_DIGITS), "training digits 50,000-50,999 (the authors' choice)"
    valid = slice(max(0, n - SIGMA_DIGITS), n)
    return valid, (f"training digits {valid.start:,}-{n - 1:,} (the last {n - valid.start:,}: "
                   f"this data has {n:,} training digits, fewer than the 51,000 the authors' choice needs)")


def monitor_digits(x_train, trained_on):
    """The digits --eval-every scores during training: (sigma digits, scored
    digits, what they are). Held-out digits where the model holds some out (the
    authors' split: sigma on 50,000-50,999, scored on 51,000-52,999), never the
    test digits, so a checkpoint chosen on them has not seen the test set."""
    n = len(x_train)
    if n - trained_on >= 2:
        a = trained_on
        b = a + min(SIGMA_DIGITS, (n - a) // 2)
        c = min(n, b + 2000)
        return unit_pixels(x_train[a:b]), unit_pixels(x_train[b:c]), (
            f"held-out training digits {b:,}-{c - 1:,} (sigma on {a:,}-{b - 1:,}), never trained on")
    k = min(SIGMA_DIGITS, max(1, n // 3))
    m = min(2000, n - k)
    a, b = n - k - m, n - k
    return unit_pixels(x_train[b:]), unit_pixels(x_train[a:b]), (
        f"training digits {a:,}-{b - 1:,} (sigma on {b:,}-{n - 1:,}), which the model also trains on: "
        "this data holds none out")
