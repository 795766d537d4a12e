"""What several test files use: tiny MNIST-shaped data, running the script as a
user would, checking a PNG, reading a run's TensorBoard events and server."""
import contextlib
import json
import os
import stat
import subprocess
import sys
import time

import numpy as np

import warm_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "gan_2014.py")
REAL_DATA = os.path.join(ROOT, "..", "shared", "data", "mnist-24k.npz")
FULL_MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist.npz")  # all 60,000 + 10,000 digits


def make_tiny_mnist(path, n_train=200, n_test=50, seed=0):
    """Digit-like uint8 images: a bright blob on black, in Keras's mnist.npz layout."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    c = np.arange(9, 19)[:, None, None]
    # the blob at each of the 10 x 10 centres, looked up per image: the same bytes
    # as computing it per image, a third of the time for the 51,200-digit file
    blobs = 255 * np.exp(-((yy - c[:, None]) ** 2 + (xx - c[None, :]) ** 2) / 18.0)
    def images(n):
        cy, cx = rng.integers(9, 19, (2, n))
        x = blobs[cy - 9, cx - 9]
        x += rng.normal(0, 8, (n, 28, 28))
        return np.clip(x, 0, 255, out=x).astype(np.uint8)
    np.savez(path, x_train=images(n_train), y_train=rng.integers(0, 10, n_train).astype(np.uint8),
             x_test=images(n_test), y_test=rng.integers(0, 10, n_test).astype(np.uint8))
    return str(path)


def env_without_xla():
    """This process's environment as it is now (a library's import may have set a
    variable since: JAX sets TF_CPP_MIN_LOG_LEVEL), with XLA off for a child."""
    return dict(os.environ, GAN_2014_XLA="0")


def child(backend, *args, cwd, check=True):
    """`python ARGS` with KERAS_BACKEND=backend; asserts it succeeded unless check=False."""
    # JAX compiled (its eager ops are dispatched one by one: twice the time of a jit); elsewhere not
    env = dict(os.environ, KERAS_BACKEND=backend, GAN_2014_XLA="1" if backend == "jax" else "0")
    done = warm_python.run([sys.executable, *map(str, args)], cwd=cwd, env=env, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done  # a subprocess's trainings without XLA's ~10 s compile


def require_backend(name):
    """Skip, saying why, when the Keras backend `name` is not installed."""
    import importlib.util

    import pytest
    from gan_2014_utils.backend import INSTALL
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed ({INSTALL[name]}); .ci/run installs it")


def run_script(*args, cwd, timeout=300, **kwargs):
    """Run `python gan_2014.py ARGS` as a user would; returns the CompletedProcess."""
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def train_script(*args, cwd, timeout=300, **kwargs):
    """run_script for a command that loads Keras (a training, evaluate): forked
    from a Python that has imported it (warm_python.py), its own process still."""
    return warm_python.run([sys.executable, SCRIPT, *map(str, args)], cwd=cwd, timeout=timeout, **kwargs)


def start_script(*args, cwd, warm=True, **kwargs):
    """`python gan_2014.py ARGS` started, without XLA, its stdout and stderr piped
    as text; warm: forked from a Python that has imported Keras (warm_python.py),
    for a test whose subject is the process but not its start."""
    popen = warm_python.Popen if warm else subprocess.Popen
    return popen([sys.executable, SCRIPT, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True, env=env_without_xla(), **kwargs)


def read_until_closed(leader):
    """What a child writes to its pseudo-terminal until it closes it."""
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    return out


def keep_variables(gan):
    """Every variable of `gan` as it is now (weights, both Adams, metrics, the random
    stream); returns a function that puts them all back."""
    kept = [(v, np.array(v.value)) for v in gan.all_variables()]

    def put_back():
        for v, value in kept:
            v.assign(value)
    return put_back


def losses_of(folder):
    """folder/run/history.csv's rows without the seconds column (the held-out estimates included)."""
    from gan_2014_utils.history import read_history
    rows = read_history(str(folder / "run" / "history.csv"), upto=10 ** 9)
    return [row[:6] + row[7:] for row in rows]


def is_png(path):
    from PIL import Image
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            return False
    with Image.open(path) as img:
        img.verify()
    return True


def tree(folder):
    """Every entry under `folder` with its bytes (a file) or its kind (a folder, a
    pipe...): to prove that nothing was touched, added or removed."""
    out = {}
    for dirpath, dirs, names in os.walk(folder):
        for name in dirs:
            out[os.path.relpath(os.path.join(dirpath, name), folder)] = "<folder>"
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    out[os.path.relpath(path, folder)] = f.read()
            else:
                out[os.path.relpath(path, folder)] = f"<{stat.S_IFMT(os.lstat(path).st_mode):o}>"
    return out


def place_run(source, dest, data):
    """source's run/ and images/ in dest, as if trained there: run.json names dest's
    grid folder and `data` (a moved run, as a user would point it)."""
    import shutil
    for sub in ("run", "images"):
        shutil.copytree(source / sub, dest / sub)
    settings = json.loads((dest / "run" / "run.json").read_text())
    settings.update(data=str(data), images=str(dest / "images"))
    (dest / "run" / "run.json").write_text(json.dumps(settings, indent=1))


HELDOUT_SAMPLES = 1000  # the tests' --eval-every estimates: the same code on a tenth of the samples


@contextlib.contextmanager
def short_runs():
    """gan_2014.main without XLA, on the process's shared models (model_pool.py),
    its held-out estimates on HELDOUT_SAMPLES samples, evaluate's classifier
    trained for one epoch (the key it is cached under says so): the trainings of
    the tests of folders and messages, whose numbers are not what they test."""
    from gan_2014_utils import evaluation, train
    from model_pool import pooled
    saved = train.heldout_monitor, evaluation.CLASSIFIER_EPOCHS
    train.heldout_monitor = lambda *a: evaluation.heldout_monitor(*a, samples=HELDOUT_SAMPLES)
    evaluation.CLASSIFIER_EPOCHS = 1
    try:
        with pooled():
            yield
    finally:
        train.heldout_monitor, evaluation.CLASSIFIER_EPOCHS = saved


def train_without_xla(argv):
    """gan_2014.main(argv) as short_runs() runs it, for a module's shared run
    (conftest's no_xla does the same for one test)."""
    import gan_2014
    with short_runs():
        gan_2014.main(argv)


def train_named_run(folder, name, *argv):
    """A run trained without XLA on folder/tiny.npz into folder/name/run and
    folder/name/images, its data copied in as folder/name/tiny.npz (a project
    folder that holds its data: run.json says ../tiny.npz, wherever it is
    placed): the shared runs of a module's fixture."""
    import shutil
    os.makedirs(folder / name, exist_ok=True)
    if not os.path.exists(folder / name / "tiny.npz"):
        shutil.copy(folder / "tiny.npz", folder / name / "tiny.npz")
    train_without_xla(["--data", str(folder / name / "tiny.npz"), "--run-dir", str(folder / name / "run"),
                       "--images", str(folder / name / "images"), *argv])


def strip_identity(path):
    """A checkpoint as a run made in Python writes it (GAN.train with its own RunFolder): no run id or settings."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({k: v for k, v in meta.items()
                                          if k not in ("run_id", "settings")}))
    np.savez(path, **arrays)


def events_of(run_dir):
    """What TensorBoard's own reader finds in a run folder's event files, in their
    order: {tag: [(step, value), ...]} (an image's value: its PNG bytes), and
    the HParams session's settings."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2
    found, settings = {}, None
    for name in sorted(n for n in os.listdir(run_dir) if "tfevents" in n):
        for event in EventFileLoader(os.path.join(run_dir, name)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    settings = {k: getattr(v, v.WhichOneof("kind")) for k, v in data.session_start_info.hparams.items()}
                    continue
                tensor, kind = value.tensor, value.WhichOneof("value")
                found.setdefault(value.tag, []).append(
                    (event.step, value.simple_value if kind == "simple_value" else
                     tensor.string_val[2] if tensor.string_val else tensor.float_val[0]))
    return found, settings


@contextlib.contextmanager
def tensorboard_server(logdir):
    """The real `tensorboard --logdir logdir` on 127.0.0.1 and a free port
    (skipped, saying why, when none can be bound); yields get(path, **query),
    which returns its HTTP data API's JSON."""
    import socket
    import urllib.parse
    import urllib.request
    import pytest
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    except OSError as e:
        pytest.skip(f"no port can be bound on 127.0.0.1 for TensorBoard ({e})")
    # forked from this process's warm Python, whose TensorFlow the server imports too (~4 s of its start)
    server = warm_python.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host",
                                "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def get(path, **query):
        url = f"http://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
        return json.loads(body) if response.headers.get_content_type() == "application/json" else body

    try:
        for _ in range(600):  # up to a minute for it to start listening
            try:
                get("/data/runs")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.1)
        yield get
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for(read, done, seconds=60):
    """read() again until done(what it read) (a server that loads as it goes), up to `seconds`."""
    for _ in range(int(seconds * 4)):
        value = read()
        if done(value):
            return value
        time.sleep(0.25)
    return value


def refused(capsys, argv, words):
    """gan_2014.main(argv) ends with exit 2 and one line on stderr holding `words`, no traceback; the line."""
    import pytest
    import gan_2014
    with pytest.raises(SystemExit) as e:
        gan_2014.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and words in err[0] and "Traceback" not in err[0], err
    return err[0]
