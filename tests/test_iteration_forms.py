"""The default iteration (the three Keras train steps in one compiled call) is
the article's three train_on_batch calls (--train-on-batch): from the same state
both leave the same losses and variables; and what the faster step must keep
(its noise; the authors' discriminator with dropout on the fakes)."""
import collections

import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from gan_2014_utils.data import load_data
from helpers import keep_variables

# Equal to float32 rounding, derived, not measured. Two forms (or two runs of one
# form on a loaded machine, whose threads sum in another order) compute each
# gradient to float32 rounding: a sum over the batch and a layer's width
# (n <= 1,056 terms) is exact to about sqrt(n) x 2**-24 ~ 2e-6 of its terms'
# scale for random-signed roundings; SLOT_TOLERANCE allows 5x that, of the
# array's largest magnitude, for Adam's slots (m is linear in the gradient, v
# quadratic) and for BatchNorm's moving statistics (batch means of the same kind).
# m can be a small difference of larger gradients (D's real step, then its fake
# step, pull the output bias opposite ways), so its scale is the larger of |m| and
# the gradients' root mean square that v holds, sqrt(v / (1 - beta_2**t)).
# A weight moves by lr_t x m / (sqrt(v) + eps), which amplifies a gradient's
# rounding wherever |g| is near eps / sqrt(1 - beta_2) (Adam's first step: up to
# 63x): so each weight's bound is that formula's own sensitivity to its slots'
# allowed rounding (`adam_bound`), times the steps its optimizer took, plus the
# rounding of w - step itself. A dropped or reordered step moves weights by
# about lr = 2e-4 and slots by their own size (the test fails; tried).
SLOT_TOLERANCE = 1e-5
BETA_2, EPSILON = 0.999, 1e-7  # Keras Adam's defaults (gan.py sets only lr and beta_1)


def adam_bound(state, key, steps):
    """How far rounding within SLOT_TOLERANCE of its slots can move weight `key`
    in its optimizer's last `steps` steps (state: after them)."""
    opt = "d_adam" if key.startswith("discriminator/") else "g_adam"
    m, v = state[f"{opt}/{key}/momentum"].astype(np.float64), state[f"{opt}/{key}/velocity"].astype(np.float64)
    t = float(state[f"{opt}/iteration"])
    alpha = gan_2014.LEARNING_RATE * np.sqrt(1 - BETA_2 ** t) / (1 - gan_2014.BETA_1 ** t)
    dm, dv = slot_tolerance(state, f"{opt}/{key}/momentum"), SLOT_TOLERANCE * np.abs(v).max()
    root = np.sqrt(v)
    d_root = np.sqrt(v + dv) - root  # sqrt's change for a change dv in v (finite where v is 0)
    d_ratio = dm / (root + EPSILON) + np.abs(m) * d_root / (root + EPSILON) ** 2
    return steps * alpha * d_ratio + 4 * 2.0 ** -24 * np.abs(state[key].astype(np.float64))


def slot_tolerance(state, key):
    """SLOT_TOLERANCE of an array's scale: for Adam's m, at least the gradients' RMS that v holds."""
    scale = float(np.abs(state[key]).max())
    if key.endswith("/momentum"):
        opt = key.split("/")[0]
        t = float(state[f"{opt}/iteration"])
        v = state[key[:-len("momentum")] + "velocity"].astype(np.float64)
        scale = max(scale, float(np.sqrt(v / (1 - BETA_2 ** t)).max()))
    return SLOT_TOLERANCE * scale


def network(key):
    """'generator' or 'discriminator' for any state key (weights, Adam's or SGD's slots)."""
    parts = key.split("/")
    return parts[1] if parts[0] in ("d_adam", "g_adam", "sgd") and len(parts) > 1 else parts[0]


def assert_same_state(state_a, state_b, start, d_adam_steps):
    """Every variable of two states equal to float32 rounding (the bounds above);
    returns how many of them the iteration moved."""
    moved, largest_move = 0, collections.defaultdict(float)
    for key, a in state_a.items():  # what a network's update moved most: the scale of its gradients' terms
        if a.dtype.kind == "f":
            largest_move[network(key)] = max(largest_move[network(key)], float(np.abs(a - start[key]).max()))
    for key, a in state_a.items():
        b = state_b[key]
        if a.dtype.kind != "f":  # the random stream, the optimizers' step counts: exactly
            np.testing.assert_array_equal(b, a, err_msg=key)
            continue
        if f"g_adam/{key}/momentum" in state_a or f"d_adam/{key}/momentum" in state_a:
            allowed = adam_bound(state_a, key, d_adam_steps if key.startswith("discriminator/") else 1)
        elif "/" in key and key.split("/")[0] in ("d_adam", "g_adam"):
            allowed = slot_tolerance(state_a, key)
        else:  # BatchNorm's moving statistics; the authors' SGD weights and velocities, whose step is
            # lr x a gradient of per-example terms of up to 1 (cross-entropy's derivative in its logit)
            sgd = f"sgd/{key}/velocity" in state_a or key.startswith("sgd/")
            allowed = SLOT_TOLERANCE * max(float(np.abs(a).max()), largest_move[network(key)],
                                           gan_2014.PaperGAN.learning_rate if sgd else 0.0)
        excess = np.abs(a.astype(np.float64) - b) - allowed
        assert excess.max() <= 0, (key, float(np.abs(a - b).max()), float(excess.max()))
        moved += not np.array_equal(a, start[key])
    return moved


def snapshot(gan):
    return {k: v.numpy().copy() for k, v in gan.state_variables().items()}


def restore(gan, state):
    for k, v in gan.state_variables().items():
        v.assign(state[k])


def one_of_each(gan, x):
    """From one state: an iteration of each form; their results and the states they leave."""
    start = snapshot(gan)
    gan.train_on_batch = True
    literal = gan.train_iteration(x, 32), snapshot(gan)
    restore(gan, start)
    gan.train_on_batch = False
    compiled = gan.train_iteration(x, 32), snapshot(gan)
    return start, literal, compiled


@pytest.fixture(scope="module")
def built():
    """GAN(seed=3, d_steps=k) for this module's tests, each k built (and its
    iteration traced) once: a test gets it back with every variable as it was
    built (weights, both Adams, metrics, the random stream)."""
    models = {}

    def fresh(d_steps):
        if d_steps not in models:
            gan = gan_2014.GAN(seed=3, jit_compile=False, d_steps=d_steps)
            models[d_steps] = gan, keep_variables(gan)
        gan, put_back = models[d_steps]
        put_back()
        gan.train_on_batch = False
        return gan
    return fresh


@pytest.mark.parametrize("trained, d_steps", [(0, 1), (300, 1), (0, 2)])
def test_one_compiled_iteration_is_the_three_train_on_batch_calls(tiny_data, built, trained, d_steps):
    (x, _), _ = load_data(tiny_data)
    x = tf.convert_to_tensor(gan_2014.GAN.from_pixels(x))
    gan = built(d_steps)
    for _ in range(trained):  # a state a few hundred iterations in, where the two forms could part
        gan.train_iteration(x, 32)
    start, (losses_a, state_a), (losses_b, state_b) = one_of_each(gan, x)
    flat = lambda r: [*r[0], *r[1], r[2]]
    np.testing.assert_allclose(flat(losses_b), flat(losses_a), rtol=1e-6)
    moved = assert_same_state(state_a, state_b, start, 2 * d_steps)
    assert moved >= 20  # it trained: the comparison is of updates, not of two no-ops


def test_the_default_step_draws_its_noise_from_a_standard_normal(tiny_data):
    """z ~ N(0, 1) (gan.py's np.random.normal) in the compiled step: every draw it
    makes is caught, and 2 x 4,096 x 100 of them have N(0, 1)'s moments and tails."""
    (x, _), _ = load_data(tiny_data)
    x = tf.convert_to_tensor(gan_2014.GAN.from_pixels(x))
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    caught = [tf.Variable(tf.zeros((4096, 100))) for _ in range(2)]
    draws, noise = [], gan.noise
    def spy(n):
        z = noise(n)
        caught[len(draws) % 2].assign(z)  # (traced once or twice: the last trace is the one that runs)
        draws.append(n)
        return z
    gan.noise = spy
    gan.train_iteration(x, 4096)
    assert draws and set(draws) == {4096} and len(draws) % 2 == 0  # the fakes' noise, the generator step's
    z = np.concatenate([v.numpy().ravel() for v in caught])
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) < 1) - 0.6827) < 0.005 and abs(np.mean(np.abs(z) > 2) - 0.0455) < 0.003


class CallSpy:
    """A model that records the `training` flag of each call, and is otherwise the model."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __call__(self, x, training=None):
        self.calls.append(training)
        return self.model(x, training=training)

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_the_authors_discriminator_sees_the_fake_half_with_dropout_on(tiny_data):
    """mnist.yaml's AdversaryCost2 runs D with dropout on both halves, the real
    digits and the samples; so do the generator's own layers (training mode)."""
    (x, _), _ = load_data(tiny_data)
    gan = gan_2014.PaperGAN(seed=0, jit_compile=False)
    gan.discriminator, gan.generator = CallSpy(gan.discriminator), CallSpy(gan.generator)
    gan.train_iteration(tf.convert_to_tensor(gan.from_pixels(x)), 100)
    assert gan.discriminator.calls == [True, True]  # real, then fake: dropout on in both
    assert gan.generator.calls == [True]


def test_the_literal_form_is_a_setting_the_run_keeps_and_the_authors_model_refuses(tmp_path, tiny_data, capsys,
                                                                                 monkeypatch, no_xla):
    import json
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        gan_2014.main(["--arch", "paper", "--train-on-batch", "--data", tiny_data])
    assert e.value.code == 2 and "drop --train-on-batch" in capsys.readouterr().err
    gan_2014.main(["--train-on-batch", "--data", tiny_data, "--epochs", "2", "--batch-size", "16"])
    assert json.loads((tmp_path / "run" / "run.json").read_text())["train_on_batch"] is True
    gan_2014.main(["--resume", "--epochs", "3"])  # a resumed run's form is its own: no option needed
    gan_2014.main(["--resume", "--epochs", "4", "--train-on-batch"])  # given again, it agrees with the run's
    assert "resuming from iteration 3" in capsys.readouterr().out

