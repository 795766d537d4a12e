"""Shared fixtures: tiny MNIST-shaped data made in a temp dir, the real digits
when ../shared/data/mnist-24k.npz is there, and a way to run the script."""
import os
import subprocess
import sys
import tempfile

# Every test process compiles the same few XLA programs; a persistent cache
# (TensorFlow's own, set before it loads, inherited by the script's
# subprocesses) saves seconds each time without changing what runs.
# One cache per pytest-xdist worker, so that two processes never write one file.
os.environ.setdefault("TF_XLA_FLAGS", "--tf_xla_persistent_cache_directory="
                      + os.path.join(tempfile.gettempdir(), "gan_2014-test-xla-cache",
                                     os.environ.get("PYTEST_XDIST_WORKER", "main"))
                      + " --tf_xla_persistent_cache_device_types=CPU,GPU")

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "gan_2014.py")
REAL_DATA = os.path.join(ROOT, "..", "shared", "data", "mnist-24k.npz")
sys.path.insert(0, ROOT)


def make_tiny_mnist(path, n_train=200, n_test=50, seed=0):
    """Digit-like uint8 images: a bright blob on black, in Keras's mnist.npz layout."""
    rng = np.random.default_rng(seed)
    def images(n):
        yy, xx = np.mgrid[:28, :28]
        cy, cx = rng.integers(9, 19, (2, n, 1, 1))
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 18.0)
        return np.clip(255 * blob + rng.normal(0, 8, (n, 28, 28)), 0, 255).astype(np.uint8)
    np.savez(path, x_train=images(n_train), y_train=rng.integers(0, 10, n_train).astype(np.uint8),
             x_test=images(n_test), y_test=rng.integers(0, 10, n_test).astype(np.uint8))
    return str(path)


@pytest.fixture
def tiny_data(tmp_path):
    return make_tiny_mnist(tmp_path / "tiny.npz")


@pytest.fixture
def real_data():
    if not os.path.exists(REAL_DATA):
        pytest.skip("../shared/data/mnist-24k.npz is not beside the project")
    return REAL_DATA


def run_script(*args, cwd, timeout=300, **kwargs):
    """Run `python gan_2014.py ARGS` as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def is_png(path):
    from PIL import Image
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            return False
    with Image.open(path) as img:
        img.verify()
    return True
