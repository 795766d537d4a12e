"""Section 1.4 of the article (the paper's Proposition 1 and Theorem 1), and the
loop's losses as the terms of the value function it is about.

The first three tests check the derivation itself, with p_data and p_g two 1-D
Gaussians and no project code: for a fixed G the best discriminator is
D*(x) = p_data(x) / (p_data(x) + p_g(x)), and there V(D*, G) = -log 4 + 2 JSD,
whose minimum -log 4 is reached only at p_g = p_data, where D* = 1/2. The last
two tie it to the project: on real iterations of the loop, the discriminator's
two losses are -V(D, G) estimated on the minibatch, and the generator's is the
non-saturating -log D(G(z))."""
import math

import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from gan_2014_utils.data import load_data
from helpers import make_tiny_mnist

X = np.linspace(-10, 10, 40001)  # both densities are below 1e-20 at the ends


def gaussian(x, mean, sd):
    return np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def integrate(y):
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(X)))


def value(d, p_data, p_g):
    """V(D, G) = E_{p_data} log D(x) + E_{p_g} log(1 - D(x)), by the trapezoid rule."""
    return integrate(p_data * np.log(d) + p_g * np.log1p(-d))


def value_at_d_star(p_data, p_g):
    """V(D*, G) in log space: D* rounds to exactly 0 or 1 in the tails, where
    log D* = log p_data - log(p_data + p_g) stays finite."""
    log_sum = np.log(p_data + p_g)
    return integrate(p_data * (np.log(p_data) - log_sum) + p_g * (np.log(p_g) - log_sum))


def jsd(p, q):
    m = 0.5 * (p + q)
    kl = lambda a, b: integrate(np.where(a > 0, a * np.log(np.where(a > 0, a, 1) / b), 0.0))
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


P_DATA = gaussian(X, 0.0, 1.0)
P_G = gaussian(X, 1.5, 0.6)


def test_value_at_the_optimal_discriminator_is_minus_log4_plus_twice_the_jsd():
    assert abs(value_at_d_star(P_DATA, P_G) - (-math.log(4) + 2 * jsd(P_DATA, P_G))) < 1e-9
    assert jsd(P_DATA, P_G) > 0.1  # the two really differ, so the identity is not trivial


def test_optimal_discriminator_beats_other_discriminators():
    d_star = P_DATA / (P_DATA + P_G)
    for other in (np.full_like(X, 0.5), np.clip(d_star + 0.05, 0.01, 0.99), 1 / (1 + np.exp(-X))):
        assert value(other, P_DATA, P_G) < value_at_d_star(P_DATA, P_G)


def test_when_pg_equals_pdata_the_optimal_discriminator_is_one_half_and_v_is_minus_log4():
    d_star = P_DATA / (P_DATA + P_DATA)
    assert np.allclose(d_star, 0.5)
    assert abs(value_at_d_star(P_DATA, P_DATA) - (-math.log(4))) < 1e-9
    assert jsd(P_DATA, P_DATA) == 0.0


@pytest.fixture(scope="module")
def loop_steps(tmp_path_factory, iterations=3):
    """Real iterations of GAN.train_iteration; for each train_on_batch call, its
    inputs, labels and loss, and the discriminator's outputs on those inputs just
    before it. Recorded once; the tests only read the record."""
    tiny_data = make_tiny_mnist(tmp_path_factory.mktemp("loop") / "tiny.npz")
    (x, _), _ = load_data(tiny_data)
    # the literal form, whose calls can be watched (test_iteration_forms.py: the default is the same)
    gan = gan_2014.GAN(seed=4, jit_compile=False, train_on_batch=True)  # the formulas do not depend on XLA
    steps = []

    def spy(model, label, forward):
        original = model.train_on_batch
        def wrapped(inputs, labels):
            d_out = forward(inputs).numpy().astype(np.float64)[:, 0]
            loss = original(inputs, labels)
            steps.append((label, np.asarray(inputs), np.asarray(labels)[:, 0], d_out, loss))
            return loss
        model.train_on_batch = wrapped

    spy(gan.discriminator, "D", lambda imgs: gan.discriminator(imgs))
    # the generator's step runs it in training mode (BatchNorm on the batch's statistics)
    spy(gan.combined, "G", lambda z: gan.discriminator(gan.generator(z, training=True)))
    x_train = tf.convert_to_tensor(gan_2014.GAN.from_pixels(x))
    for _ in range(iterations):
        gan.train_iteration(x_train, 16)
    return steps, np.asarray(x_train)


def test_the_discriminator_steps_minimise_minus_v_on_the_minibatch(loop_steps):
    """D's real step is -mean log D(x), its fake step -mean log(1 - D(G(z))): their
    sum is -V(D, G) on the batch, so minimising it is maximising V as section 1.4 assumes."""
    steps, x_train = loop_steps
    d_steps = [s for s in steps if s[0] == "D"]
    assert len(d_steps) == 6
    digits = {row.tobytes() for row in x_train}
    for i, (_, inputs, labels, d_out, loss) in enumerate(d_steps):
        real = i % 2 == 0  # each iteration: real digits first, then the generator's
        assert all((row.tobytes() in digits) == real for row in inputs)
        assert (labels == (1 if real else 0)).all()
        expected = -np.mean(np.log(d_out)) if real else -np.mean(np.log1p(-d_out))
        assert loss[0] == pytest.approx(expected, rel=1e-4)


def test_the_generator_step_is_the_non_saturating_loss(loop_steps):
    """G's step maximises log D(G(z)) (section 3), not minimise log(1 - D(G(z)))."""
    steps = [s for s in loop_steps[0] if s[0] == "G"]
    assert len(steps) == 3
    for _, _, labels, d_out, loss in steps:
        assert (labels == 1).all()
        assert loss == pytest.approx(-np.mean(np.log(d_out)), rel=1e-4)
        assert loss != pytest.approx(np.mean(np.log1p(-d_out)), rel=1e-2)  # the saturating form differs


def identity_toy_generator(gan):
    """Set the toy generator's weights so that G(z) = z: LeakyReLU(0.2) gives
    h(u) - h(-u) = 1.2 u, twice; z uniform on [-1, 1] makes p_g = U(-1, 1) = 1/2 there."""
    first, second, out = (l for l in gan.generator.layers if type(l).__name__ == "Dense")
    for layer in (first, second, out):
        layer.kernel.assign(np.zeros(layer.kernel.shape, np.float32))
        layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
    w1 = np.zeros((1, 32), np.float32); w1[0, :2] = 1, -1
    w2 = np.zeros((32, 32), np.float32); w2[:2, :2] = [[1, -1], [-1, 1]]
    w3 = np.zeros((32, 1), np.float32); w3[:2, 0] = 1 / 1.44, -1 / 1.44
    first.kernel.assign(w1); second.kernel.assign(w2); out.kernel.assign(w3)
    z = np.linspace(-1, 1, 11, dtype=np.float32)[:, None]
    np.testing.assert_allclose(gan.generator(z).numpy(), z, atol=1e-6)


def test_figure_1s_optimal_discriminator_is_p_data_over_p_data_plus_p_g_on_known_densities():
    """The paper's Proposition 1, through the toy's own densities(): p_g = U(-1, 1)
    and p_data = N(1, 0.25^2), so D* = p_data / (p_data + 1/2) inside [-1, 1] and
    D* = 1 where only the data has mass."""
    gan = gan_2014.ToyGAN(seed=0, jit_compile=False)
    identity_toy_generator(gan)
    x = np.linspace(-3, 3, 601)
    p_data, p_g, d, d_star = gan.densities(x)
    np.testing.assert_allclose(p_data, gaussian(x, 1.0, 0.25), rtol=1e-12)
    inside = np.abs(x) <= 0.6  # the kernel estimate of p_g is flat here, at 1/2
    np.testing.assert_allclose(p_g[inside], 0.5, rtol=0.03)
    np.testing.assert_allclose(d_star[inside], (p_data / (p_data + 0.5))[inside], rtol=0.03, atol=1e-6)
    assert d_star[inside].min() < 0.01 and d_star[inside].max() > 0.4  # far from 1/2 and near it
    beyond = (x > 1.6) & (x < 2.0)  # only the data has mass: D* = 1
    np.testing.assert_allclose(d_star[beyond], 1.0, atol=1e-3)
    assert np.isnan(d_star[x < -2]).all()  # neither has mass: D* is undefined there, not 0 or 1
    np.testing.assert_array_equal(d, gan.discriminator(x[:, None].astype(np.float32)).numpy()[:, 0])


def test_where_p_g_equals_p_data_the_toys_optimal_discriminator_is_one_half_and_c_is_minus_log4(monkeypatch):
    """Section 1.4's global optimum, through the toy's own densities(): with
    p_data = U(-1, 1) = p_g, D* = 1/2 and C(G) = V(D*, G) = -log 4."""
    gan = gan_2014.ToyGAN(seed=0, jit_compile=False)
    identity_toy_generator(gan)
    monkeypatch.setattr(gan, "p_data", lambda x: np.where(np.abs(x) <= 1, 0.5, 0.0))
    x = np.linspace(-1, 1, 401)[1:-1]
    p_data, p_g, d, d_star = gan.densities(x, samples=100000)
    inside = np.abs(x) <= 0.6
    np.testing.assert_allclose(d_star[inside], 0.5, atol=0.01)
    # C(G) on the interior, normalised to its mass: E_data log D* + E_g log(1 - D*)
    w = np.where(inside, 1.0, 0.0)
    c = (np.sum(w * p_data * np.log(d_star)) / np.sum(w * p_data)
         + np.sum(w * p_g * np.log1p(-d_star)) / np.sum(w * p_g))
    assert c == pytest.approx(-math.log(4), abs=0.02)
