"""The same numbers on every Keras 3 backend (issue 43): TensorFlow in this
process, JAX and PyTorch in one child each with KERAS_BACKEND set (skipped
saying why when not installed): one iteration from the same weights and
minibatch to float32 rounding, the same Parzen figure."""
import contextlib
import io
import os

import numpy as np
import pytest

from gan_2014_utils.run_folder import is_random_state
from helpers import ROOT, child, make_tiny_mnist, require_backend
from test_iteration_forms import assert_same_state

HERE = os.path.dirname(os.path.abspath(__file__))


def iteration_inputs(tmp_path, arch):
    """A model's first state and one iteration's draws (batch 16), in one .npz."""
    import one_iteration
    gan = one_iteration.build(arch, "compiled")
    rng = np.random.default_rng(0)
    (x_train, _), _ = __import__("gan_2014_utils.data", fromlist=["load_data"]).load_data(
        make_tiny_mnist(tmp_path / "tiny.npz"))
    x_train = gan.from_pixels(x_train)
    z = lambda: gan.host_noise(rng, 16)
    path = tmp_path / f"in-{arch}.npz"
    np.savez(path, x_train=x_train, x=x_train[rng.integers(0, len(x_train), 16)], z_fake=z(), z_gen=z(),
             **one_iteration.state_of(gan))
    return path


CASES = [("keras-gan", "compiled"), ("keras-gan", "literal"), ("paper", "compiled")]
PARZEN = ("from gan_2014_utils import evaluation, generators\n"
          "found = generators.describe_generator('pretrained/keras-gan-mnist.weights.h5', gan_2014.ARCHS)\n"
          "gan = generators.load_generator(found, gan_2014.ARCHS)\n"
          "x = np.random.default_rng(0).random((300, 784)).astype(np.float32)\n"
          "print('parzen', repr(evaluation.parzen_evaluate(evaluation.generate(gan, 1000, 1), x[:100], x[100:])))\n")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Each case's first state and draws, and TensorFlow's iteration and Parzen figure, here."""
    import gan_2014
    import one_iteration
    folder = tmp_path_factory.mktemp("tensorflow")
    for arch in dict(CASES):
        iteration_inputs(folder, arch)
    for arch, form in CASES:
        one_iteration.main(arch, form, folder / f"in-{arch}.npz", folder / f"{arch}-{form}.npz")
    namespace = {"np": np, "gan_2014": gan_2014}
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.chdir(ROOT):
        exec(PARZEN, namespace)
    return folder, eval(out.getvalue().split("parzen ", 1)[1])


@pytest.fixture(scope="module", params=("jax", "torch"))
def theirs(request, inputs, tmp_path_factory):
    """One child on the other backend (skipped saying why when not installed): every
    case's iteration from TensorFlow's inputs, and the Parzen figure."""
    require_backend(request.param)
    folder, out = inputs[0], tmp_path_factory.mktemp(request.param)
    code = ("import sys; sys.path[:0] = [%r, %r]; import numpy as np, gan_2014, one_iteration\n" % (ROOT, HERE)
            + "".join("one_iteration.main(%r, %r, %r, %r)\n" % (arch, form, str(folder / f"in-{arch}.npz"),
                                                                 str(out / f"{arch}-{form}.npz"))
                      for arch, form in CASES) + PARZEN)
    done = child(request.param, "-c", code, cwd=ROOT)
    return request.param, out, eval(done.stdout.split("parzen ", 1)[1])


@pytest.mark.parametrize("arch, form", CASES)
def test_one_iteration_on_each_backend_equals_tensorflows_to_float32_rounding(inputs, theirs, arch, form):
    folder, (_, out, _) = inputs[0], theirs
    with np.load(folder / f"{arch}-{form}.npz") as a, np.load(out / f"{arch}-{form}.npz") as b, \
            np.load(folder / f"in-{arch}.npz") as s:
        ours = {k: a[k] for k in a.files if not is_random_state(k)}
        theirs = {k: b[k].astype(a[k].dtype) for k in ours}
        start = {k: s[k].astype(a[k].dtype) for k in ours if k != "losses"}
    # a loss is a batch mean of cross-entropies: float32 rounding of 16 terms and their logs
    np.testing.assert_allclose(theirs.pop("losses"), ours.pop("losses"), rtol=1e-5, atol=1e-6)
    assert assert_same_state(ours, theirs, start, 2) >= 10  # D: two Adam steps (real, fake); G: one


def test_the_parzen_figure_of_the_shipped_generator_is_the_same_on_each_backend(inputs, theirs):
    """evaluate's figure from the same noise: the generator's outputs agree to float32
    rounding, so the log-likelihood does (its sums are float64)."""
    np.testing.assert_allclose(theirs[2], inputs[1], rtol=1e-5)
