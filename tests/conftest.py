"""Fixtures: tiny MNIST-shaped data made in a temp dir, and the real digits
when ../shared/data/mnist-24k.npz is there. Helpers live in helpers.py."""
import os
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

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import REAL_DATA, ROOT, make_tiny_mnist  # noqa: E402

sys.path.insert(0, ROOT)


@pytest.fixture
def tiny_data(tmp_path):
    return make_tiny_mnist(tmp_path / "tiny.npz")


@pytest.fixture
def real_data():
    if not os.path.exists(REAL_DATA):
        pytest.skip("../shared/data/mnist-24k.npz is not beside the project")
    return REAL_DATA
