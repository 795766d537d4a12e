"""Fixtures: tiny MNIST-shaped data made in a temp dir, and the real digits
when ../shared/data/mnist-24k.npz is there. Helpers live in helpers.py."""
import os
import shutil
import sys
import tempfile

# Every test process compiles the same few XLA programs; a persistent cache
# (TensorFlow's own, set before it loads, inherited by the script's
# subprocesses) saves seconds each time without changing what runs.
# One cache per pytest-xdist worker, so that two processes never write one file,
# and per test session, so that an entry a killed process left half-written
# (TensorFlow writes them in place) never reaches another session.
XLA_CACHE = os.path.join(tempfile.gettempdir(), "gan_2014-test-xla-cache",
                         os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid())),
                         os.environ.get("PYTEST_XDIST_WORKER", "main"))
os.environ.setdefault("TF_XLA_FLAGS", f"--tf_xla_persistent_cache_directory={XLA_CACHE}"
                      " --tf_xla_persistent_cache_device_types=CPU,GPU")

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


@pytest.fixture(scope="session")
def full_size_data(tmp_path_factory):
    """Enough training digits for the authors' split (51,200: train on 0-49,999,
    sigma on 50,000-50,999), digit-like but made here: 40 MB in a temp dir."""
    return make_tiny_mnist(tmp_path_factory.mktemp("full") / "full.npz", n_train=51200, n_test=100)


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory):
    """One cache of evaluate's MNIST classifier per test process: the tiny data is
    the same in every test that evaluates, so the classifier is trained once."""
    return str(tmp_path_factory.mktemp("classifier-cache"))


def pytest_sessionfinish(session):
    shutil.rmtree(XLA_CACHE, ignore_errors=True)  # this process's cache: no other session reads it
