"""Section 1.4 of the seed (the paper's Proposition 1 and Theorem 1) as a test,
with p_data and p_g two 1-D Gaussians.

For a fixed G the best discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)),
and there V(D*, G) = -log 4 + 2 JSD(p_data || p_g), whose minimum -log 4 is
reached only at p_g = p_data, where D* = 1/2."""
import math

import numpy as np
import keras

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


def test_discriminator_trained_to_convergence_approaches_d_star():
    """A small sigmoid MLP, trained on 40,000 draws of each distribution with the
    GAN's binary cross-entropy, comes within 0.03 of D* wherever the mixture
    (p_data + p_g) / 2 is at least 5% of its peak (in the far tails there are too
    few draws to pin D down), and its value V is within 0.005 below V(D*, G)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = 40000
    x = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(1.5, 0.6, n)]).astype(np.float32)[:, None]
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32)[:, None]
    d = keras.Sequential([keras.Input((1,)), keras.layers.Dense(32, activation="tanh"),
                          keras.layers.Dense(32, activation="tanh"),
                          keras.layers.Dense(1, activation="sigmoid")], name="discriminator_1d")
    d.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    d.fit(x, y, batch_size=2000, epochs=40, shuffle=True, verbose=0)
    d.optimizer.learning_rate.assign(0.001)
    d.fit(x, y, batch_size=2000, epochs=20, shuffle=True, verbose=0)
    d_star = P_DATA / (P_DATA + P_G)
    mixture = 0.5 * (P_DATA + P_G)
    where = mixture >= 0.05 * mixture.max()
    trained = d.predict(X[where][:, None].astype(np.float32), batch_size=8192, verbose=0)[:, 0]
    assert np.max(np.abs(trained - d_star[where])) < 0.03
    full = np.clip(d.predict(X[:, None].astype(np.float32), batch_size=8192, verbose=0)[:, 0], 1e-7, 1 - 1e-7)
    assert 0 <= value_at_d_star(P_DATA, P_G) - value(full, P_DATA, P_G) < 0.005
