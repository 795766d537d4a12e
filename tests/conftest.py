"""Fixtures: tiny MNIST-shaped data made in a temp dir, and the real digits
when ../shared/data/mnist-24k.npz is there. Helpers live in helpers.py."""
import os
import shutil
import sys
import tempfile

import pytest

# Two test processes share the two cores: one thread each for every backend's
# kernels (TensorFlow's pools, torch's OpenMP) rather than two each spinning
# against the other's (a short training beside another: 23 s, then 19 s).
# Set before anything imports a backend; the children inherit it.
for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(name, "1")
# Temporary folders in memory where the machine has room (Linux's /dev/shm): a
# run's atomic writes each end in fsync, which on a disk waited for it (two test
# files alone: 77 s on disk, 65 s here). The same code runs; only the wait goes.
# A passing test's folder is removed when it ends (pytest.ini), so a few GB suffice.
if "TMPDIR" not in os.environ and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) \
        and shutil.disk_usage("/dev/shm").free > 4 * 2 ** 30:
    os.environ["TMPDIR"] = "/dev/shm"
    tempfile.tempdir = None  # read again from TMPDIR

if os.environ.get("PYTEST_XDIST_WORKER"):
    # An xdist test process ends without Python's teardown of TensorFlow's, JAX's
    # and PyTorch's modules (~1 s at the end of every run): registered before
    # their imports, this handler runs last, after theirs and warm_python's, when
    # every result has reached the controlling process. (Without -n, Python ends it.)
    import atexit
    atexit.register(os._exit, 0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import FULL_MNIST, REAL_DATA, ROOT, make_tiny_mnist, require_backend  # noqa: E402

sys.path.insert(0, ROOT)


@pytest.fixture
def tiny_data(tmp_path):
    return make_tiny_mnist(tmp_path / "tiny.npz")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with the data in it (tiny.npz), as the current folder, and
    Keras's cache beside it (tmp_path/keras-home: a folder of images is cached there)."""
    (tmp_path / "proj").mkdir()
    make_tiny_mnist(tmp_path / "proj" / "tiny.npz")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    return tmp_path / "proj"


LOCAL_MNIST = os.path.join(ROOT, "mnist.npz")  # where the README tells a user to put Keras's mnist.npz


@pytest.fixture
def real_data():
    for path in (REAL_DATA, LOCAL_MNIST):
        if os.path.exists(path):
            return path
    pytest.skip("no real digits: neither ../shared/data/mnist-24k.npz beside the project nor mnist.npz in it")


@pytest.fixture
def full_mnist():
    for path in (FULL_MNIST, LOCAL_MNIST):
        if os.path.exists(path):
            return path
    pytest.skip("no full MNIST: neither ../shared/data/mnist.npz beside the project nor mnist.npz in it")


@pytest.fixture(scope="session")
def full_size_data(tmp_path_factory):
    """Enough training digits for the authors' split (51,200: train on 0-49,999,
    sigma on 50,000-50,999), digit-like but made here: 40 MB in a temp dir."""
    return make_tiny_mnist(tmp_path_factory.mktemp("full") / "full.npz", n_train=51200, n_test=100)


@pytest.fixture(scope="session", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    """One JAX compilation cache for this test process's JAX children (their
    environment inherits it): a child compiles what an earlier one compiled in a
    fraction of the time (each command's child on JAX: 32 s, then 12 s), the same
    executables. TensorFlow's XLA cache cannot be read back (see docs/tests.md)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path_factory.mktemp("jax-cache")))
        mp.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        mp.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
        yield


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory):
    """One cache of evaluate's MNIST classifier per test process: the tiny data is
    the same in every test that evaluates, so the classifier is trained once."""
    return str(tmp_path_factory.mktemp("classifier-cache"))



@pytest.fixture
def no_xla():
    """Trainings in this process as helpers.short_runs() runs them: without XLA (its
    ~10 s compile is most of a short run's time), on models shared with this
    process's earlier trainings (model_pool.py: each traced once), held-out
    estimates on a tenth of the samples. For tests of folders and messages, not of the numbers."""
    from helpers import short_runs
    with short_runs():
        yield


@pytest.fixture(params=("jax", "torch"))
def other(request):
    """The other Keras backends in turn, each skipped saying why when it is not installed."""
    require_backend(request.param)
    return request.param


# Seconds each file took in a whole run (`--durations=0`, summed by file: docs/tests.md).
# With `-n 2 --dist loadfile` the two test processes take files in this order,
# longest first, so that the last files handed out are short and both processes
# end together (xdist hands them out by their number of tests: one process ran
# for 20 s after the other had finished). A file not listed counts as 5 s.
SECONDS = {"test_backend_runs.py": 64, "test_reliability.py": 52, "test_paper_arch.py": 29,
           "test_run_rules.py": 23, "test_stop_and_resume.py": 22, "test_figures.py": 22, "test_run_files.py": 19,
           "test_own_images.py": 19, "test_run_folder.py": 18, "test_tensorboard.py": 10, "test_iteration_forms.py": 16,
           "test_determinism.py": 16, "test_floor_equivalence.py": 15, "test_kill_at_every_write.py": 14,
           "test_evaluation.py": 14, "test_backend_numbers.py": 13, "test_model_pool.py": 13,
           "test_first_impressions.py": 10, "test_real_digits.py": 9, "test_logged_figures.py": 9,
           "test_update_direction.py": 6, "test_bad_input.py": 6, "test_smoke.py": 6, "test_warm_python.py": 6,
           "test_collapse.py": 3, "test_theory.py": 2, "test_training_updates.py": 2, "test_backend_environment.py": 1,
           "test_architecture.py": 1}
# Files whose children need the same warm servers (warm_python.py: JAX's and
# PyTorch's, ~8 s to start in each process) run in one test process.
ONE_PROCESS = {"tests/test_backend_numbers.py": "tests/test_backend_runs.py"}


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: -SECONDS.get(item.path.name, 5))  # stable: each file's tests stay in order


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, handing files out in the order above and ONE_PROCESS's together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid):
            scope = super()._split_scope(nodeid)
            return ONE_PROCESS.get(scope, scope)

    config.option.loadscopereorder = False  # xdist's own order: by each file's number of tests
    return Scheduling(config, log)
