"""One script on every Keras 3 backend: TensorFlow (this process), JAX and
PyTorch (children with KERAS_BACKEND set, skipped saying why when the backend is
not installed). The same iteration to float32 rounding, kill -9 and --resume,
runs that move between backends, the same Parzen figure, no TensorFlow loaded
beside the others, and one line for a backend we do not run on."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import backend
from helpers import ROOT, SCRIPT, losses_of, make_tiny_mnist, tree
from test_iteration_forms import assert_same_state

HERE = os.path.dirname(os.path.abspath(__file__))
OTHERS = ("jax", "torch")
TINY = ["--batch-size", "16", "--seed", "4", "--sample-interval", "2", "--checkpoint-interval", "2"]


@pytest.fixture(params=OTHERS)
def other(request):
    if importlib.util.find_spec(request.param) is None:
        pytest.skip(f"{request.param} is not installed ({backend.INSTALL[request.param]}); .ci/run installs it")
    return request.param


def child(backend_name, *args, cwd, check=True):
    # JAX compiled (its eager ops are dispatched one by one: twice the time of a jit); elsewhere not
    env = dict(os.environ, KERAS_BACKEND=backend_name, GAN_2014_XLA="1" if backend_name == "jax" else "0")
    done = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


# -----------------------------------------------------------------------------
# The same numbers

def iteration_inputs(tmp_path, arch):
    """A model's first state and one iteration's draws (batch 16), in one .npz."""
    import one_iteration
    gan = one_iteration.build(arch, "compiled")
    rng = np.random.default_rng(0)
    (x_train, _), _ = __import__("gan_2014_utils.data", fromlist=["load_mnist"]).load_mnist(
        make_tiny_mnist(tmp_path / "tiny.npz"))
    x_train = gan.from_pixels(x_train)
    z = lambda: gan.host_noise(rng, 16)
    path = tmp_path / f"in-{arch}.npz"
    np.savez(path, x_train=x_train, x=x_train[rng.integers(0, len(x_train), 16)], z_fake=z(), z_gen=z(),
             **one_iteration.state_of(gan))
    return path


@pytest.mark.parametrize("arch, form", [("keras-gan", "compiled"), ("keras-gan", "literal"), ("paper", "compiled")])
def test_one_iteration_on_each_backend_equals_tensorflows_to_float32_rounding(tmp_path, other, arch, form):
    import one_iteration
    src = iteration_inputs(tmp_path, arch)
    one_iteration.main(arch, form, src, tmp_path / "tensorflow.npz")
    child(other, os.path.join(HERE, "one_iteration.py"), arch, form, src, tmp_path / f"{other}.npz", cwd=tmp_path)
    with np.load(tmp_path / "tensorflow.npz") as a, np.load(tmp_path / f"{other}.npz") as b, np.load(src) as s:
        ours = {k: a[k] for k in a.files if not one_iteration.is_random_state(k)}
        theirs = {k: b[k].astype(a[k].dtype) for k in ours}
        start = {k: s[k].astype(a[k].dtype) for k in ours if k != "losses"}
    # a loss is a batch mean of cross-entropies: float32 rounding of 16 terms and their logs
    np.testing.assert_allclose(theirs.pop("losses"), ours.pop("losses"), rtol=1e-5, atol=1e-6)
    assert assert_same_state(ours, theirs, start, 2) >= 10  # D: two Adam steps (real, fake); G: one


def test_the_parzen_figure_of_the_shipped_generator_is_the_same_on_each_backend(tmp_path, other):
    """evaluate's figure from the same noise: the generator's outputs agree to float32
    rounding, so the log-likelihood does (its sums are float64)."""
    code = ("import sys; sys.path.insert(0, %r); import numpy as np, gan_2014\n"
            "from gan_2014_utils import data, evaluation, generators\n"
            "found = generators.describe_generator('pretrained/keras-gan-mnist.weights.h5', gan_2014.ARCHS)\n"
            "gan = generators.load_generator(found, gan_2014.ARCHS)\n"
            "x = np.random.default_rng(0).random((300, 784)).astype(np.float32)\n"
            "s = evaluation.generate(gan, 1000, 1)\n"
            "print(repr(evaluation.parzen_evaluate(s, x[:100], x[100:])))\n") % ROOT
    figures = [eval(child(b, "-c", code, cwd=ROOT).stdout.strip().splitlines()[-1]) for b in ("tensorflow", other)]
    np.testing.assert_allclose(figures[1], figures[0], rtol=1e-5)


# -----------------------------------------------------------------------------
# Runs on each backend, and across them

def test_kill_9_then_resume_on_each_backend_gives_the_uninterrupted_history_and_no_tensorflow(tmp_path, other):
    make_tiny_mnist(tmp_path / "tiny.npz")
    argv = ["--data", "tiny.npz", *TINY, "--epochs", "6"]
    for name in ("whole", "again", "killed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "tiny.npz").write_bytes((tmp_path / "tiny.npz").read_bytes())
    kill = os.path.join(HERE, "kill_at_write.py")
    child(other, kill, 0, *argv, cwd=tmp_path / "whole")
    child(other, kill, 0, *argv, cwd=tmp_path / "again")
    assert losses_of(tmp_path / "again") == losses_of(tmp_path / "whole")  # the same --seed, the same history
    killed = child(other, kill, 9, *argv, cwd=tmp_path / "killed", check=False)  # after a checkpoint
    assert killed.returncode == -9  # SIGKILL, mid-run
    code = ("import sys; sys.path.insert(0, %r); import gan_2014; gan_2014.main(['--resume'])\n"
            "print('tensorflow loaded:', 'tensorflow' in sys.modules)") % ROOT
    resumed = child(other, "-c", code, cwd=tmp_path / "killed")
    assert "resuming from iteration" in resumed.stdout
    assert "tensorflow loaded: False" in resumed.stdout  # with torch, a TensorFlow beside it crashes the process
    assert losses_of(tmp_path / "killed") == losses_of(tmp_path / "whole")
    grids = lambda folder: {k: v for k, v in tree(folder / "images").items() if k != ".gan_2014-run"}  # not the run id
    assert grids(tmp_path / "killed") == grids(tmp_path / "whole")  # the grids and the GIF, byte for byte
    assert json.loads((tmp_path / "killed" / "run" / "run.json").read_text())["backend"] == other


def test_every_command_runs_on_each_backend(tmp_path, other):
    """Both --arch, --train-on-batch, --d-steps, --g-loss, --eval-every, --resume,
    sample (a grid, --nearest, --interpolate), evaluate and toy, in one child."""
    make_tiny_mnist(tmp_path / "tiny.npz")
    code = ("import sys; sys.path.insert(0, %r); import gan_2014\n"
            "from gan_2014_utils import evaluation, train\n"  # held-out estimates on 500 samples: the same code
            "train.heldout_monitor = lambda *a: evaluation.heldout_monitor(*a, samples=500)\n"
            "m = gan_2014.main\n"
            "m(['--data', 'tiny.npz', '--arch', 'paper', '--epochs', '4', '--batch-size', '16', '--run-dir', 'p',\n"
            "   '--images', 'pi', '--eval-every', '2', '--g-loss', 'minimax'])\n"
            "m(['--data', 'tiny.npz', '--epochs', '2', '--batch-size', '16', '--train-on-batch', '--d-steps', '2'])\n"
            "m(['--resume', '--epochs', '4'])\n"
            "m(['sample', '--weights', 'run', '--out', 'grid.png'])\n"
            "m(['sample', '--weights', 'p', '--nearest', '--data', 'tiny.npz', '--out', 'nearest.png'])\n"
            "m(['sample', '--weights', 'run', '--interpolate', '4', '--n', '2', '--out', 'line.png'])\n"
            "m(['evaluate', '--weights', 'p', '--data', 'tiny.npz', '--samples', '200'])\n"
            "m(['toy', '--iterations', '20', '--out', 'toy.png'])\n"
            "print('tensorflow loaded:', 'tensorflow' in sys.modules)\n") % ROOT
    done = child(other, "-c", code, cwd=tmp_path)
    assert "tensorflow loaded: False" in done.stdout
    assert "resuming from iteration 2" in done.stdout and "Parzen LL" in done.stdout and "Figure 1 written" in done.stdout
    for name in ("grid.png", "nearest.png", "line.png", "toy.png", "run/generator.weights.h5", "p/best/best.json"):
        assert (tmp_path / name).is_file(), name


def test_a_run_moves_from_tensorflow_to_another_backend_and_back(tmp_path, other, no_xla, monkeypatch, capsys):
    """Weights, optimizer state, iteration and the grids' noise carried; the random
    stream after a move is the new backend's, said in one line; each iteration once."""
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    gan_2014.main(["--data", "tiny.npz", *TINY, "--epochs", "4"])
    moved = child(other, SCRIPT, "--resume", "--epochs", "8", cwd=tmp_path)
    assert f"was written on tensorflow and is read on {other}" in moved.stdout
    assert f"the random stream from here is {other}'s" in moved.stdout
    assert json.loads((tmp_path / "run" / "run.json").read_text())["backend"] == other
    capsys.readouterr()
    gan_2014.main(["--resume", "--epochs", "12"])
    assert f"was written on {other} and is read on tensorflow" in capsys.readouterr().out
    rows = losses_of(tmp_path)
    assert [r[0] for r in rows] == list(range(1, 13)) and all(np.isfinite(r[1:6]).all() for r in rows)
    grids = sorted(int(p.stem) for p in (tmp_path / "images").glob("*.png"))
    assert grids == list(range(0, 13, 2))


def test_a_moved_runs_checkpoint_with_a_counter_too_large_for_the_backend_is_refused(tmp_path):
    """Counters are carried across integer widths (JAX's are 32-bit) only when their values fit."""
    from gan_2014_utils.process import CheckpointError
    from gan_2014_utils.run_folder import load_checkpoint, write_checkpoint
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(gan, str(path), 0, 0.0, gan.host_noise(np.random.default_rng(0), 25), None,
                     collapsed_since=None, files={})
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    key = "d_adam/iteration"
    arrays[key] = np.array(2 ** 64 - 1, np.uint64)  # an integer of another width whose value does not fit
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=key):
        load_checkpoint(gan, str(path))


# -----------------------------------------------------------------------------
# Bad environments: one line, exit 2, nothing written

@pytest.mark.parametrize("name", ["numpy", "openvino", "tensorfow"])
def test_a_backend_we_do_not_run_on_is_one_line_naming_the_three(tmp_path, name):
    make_tiny_mnist(tmp_path / "tiny.npz")
    before = tree(tmp_path)
    done = subprocess.run([sys.executable, SCRIPT, "--data", "tiny.npz"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, KERAS_BACKEND=name))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "tensorflow, jax, torch" in done.stderr and name in done.stderr
    assert tree(tmp_path) == before


def test_a_backend_that_is_not_installed_gives_the_pip_command(tmp_path, monkeypatch, capsys):
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "jax" else real(n, *a))
    with pytest.raises(SystemExit) as e:
        gan_2014.main(["--data", "tiny.npz"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "pip install jax" in err and err.count("\n") == 1
    assert tree(tmp_path) == before


def test_a_backend_that_does_not_import_is_one_line_before_any_folder_is_made(tmp_path):
    """An installed backend whose import fails (a broken or partial install: a jax
    that raises ImportError, first on the path) is refused like a missing one."""
    fake = tmp_path / "fake" / "jax"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('libjax.so: cannot open shared object file')\n")
    project = tmp_path / "project"
    project.mkdir()
    make_tiny_mnist(project / "tiny.npz")
    before = tree(project)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(tmp_path / "fake"))
    for args in (["--data", "tiny.npz"], ["sample", "--weights", os.path.join(ROOT, "pretrained", "paper-mnist.weights.h5")]):
        done = subprocess.run([sys.executable, SCRIPT, *args], cwd=project, capture_output=True, text=True,
                              timeout=120, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "libjax.so" in done.stderr and "pip install jax" in done.stderr
        assert tree(project) == before
