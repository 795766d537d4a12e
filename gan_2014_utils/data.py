"""MNIST, from Keras's download or a local .npz in its layout, checked; and
which digits score a generator (the authors' held-out split where the data has it)."""
import hashlib

import numpy as np

from gan_2014_utils.files import BadFile, read_npz
from gan_2014_utils.process import UsageError, lazy

keras = lazy("keras")

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
SIGMA_DIGITS = 1000   # digits that choose the Parzen window's sigma: the authors' 50,000-50,999


def unit_pixels(x):
    """uint8 digits -> float32 pixels in [0, 1], as the Parzen windows and the classifier see them."""
    return x.astype(np.float32) / 255.0


def check_mnist(path, arrays):
    """Keras's layout: uint8 (N, 28, 28) digits with N > 0 and integer labels 0-9, in each split."""
    missing = [k for k in MNIST_KEYS if k not in arrays]
    if missing:
        raise UsageError(f"--data {path}: missing key(s) {', '.join(missing)}; "
                         f"an MNIST .npz holds {', '.join(MNIST_KEYS)}")
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or len(x) == 0:
            raise UsageError(f"--data {path}: x_{split} is {x.dtype} of shape {x.shape}; "
                             "expected uint8 of shape (N, 28, 28) with N > 0")
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise UsageError(f"--data {path}: y_{split} is {y.dtype} of shape {y.shape}; "
                             f"expected integer labels of shape ({len(x)},)")
        if y.min() < 0 or y.max() > 9:
            raise UsageError(f"--data {path}: y_{split} holds labels from {y.min()} to {y.max()}; "
                             "MNIST's labels are the digits 0-9")


def load_mnist(path=None):
    """MNIST as `keras.datasets.mnist.load_data()` returns it: uint8 28x28 digits.

    With `path`, read a local .npz in the layout of Keras's own mnist.npz
    (x_train, y_train, x_test, y_test) and check it, so that a wrong file fails
    here with a clear message rather than deep inside a training step.
    """
    if path is None:
        try:
            return keras.datasets.mnist.load_data()
        except Exception as e:  # get_file wraps every network failure in a bare Exception
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"could not download MNIST ({reason}); "
                             "pass --data FILE with a local copy of Keras's mnist.npz") from None
    try:
        arrays = read_npz(path)
    except BadFile as e:
        raise UsageError(f"--data {path}: {e}") from None
    check_mnist(path, arrays)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def data_digest(mnist):
    """A short sha256 of the arrays themselves: the same digits under another name match."""
    h = hashlib.sha256()
    for a in (a for pair in mnist for a in pair):
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
