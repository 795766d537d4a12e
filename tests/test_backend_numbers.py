"""The same numbers on every Keras 3 backend (issue 43): TensorFlow in this
process, JAX and PyTorch in children with KERAS_BACKEND set (`other`, in
conftest.py: skipped saying why when not installed): one iteration from the
same weights and minibatch to float32 rounding, the same Parzen figure."""
import os

import numpy as np
import pytest

from gan_2014_utils.run_folder import is_random_state
from helpers import ROOT, child, make_tiny_mnist
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


@pytest.mark.parametrize("arch, form", [("keras-gan", "compiled"), ("keras-gan", "literal"), ("paper", "compiled")])
def test_one_iteration_on_each_backend_equals_tensorflows_to_float32_rounding(tmp_path, other, arch, form):
    import one_iteration
    src = iteration_inputs(tmp_path, arch)
    one_iteration.main(arch, form, src, tmp_path / "tensorflow.npz")
    child(other, os.path.join(HERE, "one_iteration.py"), arch, form, src, tmp_path / f"{other}.npz", cwd=tmp_path)
    with np.load(tmp_path / "tensorflow.npz") as a, np.load(tmp_path / f"{other}.npz") as b, np.load(src) as s:
        ours = {k: a[k] for k in a.files if not is_random_state(k)}
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
