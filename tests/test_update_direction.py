"""Each update moves each parameter by the step of the objective the paper names,
checked per parameter against a gradient computed here, by hand, on the same
minibatch: not only that the networks moved (an update of the wrong objective
moves them too), but where to.

- The authors' model (plain SGD with momentum): after the first update every
  velocity is -lr x the gradient (the velocity starts at 0), for D of
  d_obj = -1/2 (mean log D(x) + mean log(1 - D(G(z)))) (AdversaryCost2) and for G
  of -mean log D(G(z)) (or mean log(1 - D(G(z))) with --g-loss minimax).
- Keras-GAN's model (Adam): after each train_on_batch, Adam's first moment of
  each weight is beta_1 m + (1 - beta_1) g, with g the gradient of D's
  -mean log D(x) on real digits, -mean log(1 - D(G(z))) on fakes, and G's loss
  through the frozen D.

Velocities and moments are compared rather than the weights themselves: G's
first steps in the authors' model are 1e-8 to 1e-7, under float32's resolution
of weights near 0.05, while a velocity holds the step itself."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import gan_2014
from gan_2014_utils.data import load_data
from helpers import make_tiny_mnist


def mean_log(x):
    return tf.reduce_mean(tf.math.log(x))


def d_objective(d_real, d_fake):
    """What D minimizes: minus the value function on the minibatch (each half a mean)."""
    return -(mean_log(d_real) + mean_log(1.0 - d_fake))


def g_objective(kind, d_fake):
    """What G minimizes (the paper's section 3): -log D(G(z)), or log(1 - D(G(z)))."""
    return -mean_log(d_fake) if kind == "non-saturating" else mean_log(1.0 - d_fake)


def assert_step(actual, expected, what):
    """Per parameter: equal to float32 rounding, relative to that parameter's own scale."""
    for a, e, name in zip(actual, expected, what):
        e = np.asarray(e, np.float64)
        scale = np.abs(e).max()
        assert scale > 0, f"{name}: no gradient, nothing to compare"
        np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-3 * scale, err_msg=name)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    (x, _), _ = load_data(make_tiny_mnist(tmp_path_factory.mktemp("d") / "tiny.npz", n_train=100))
    return x


@pytest.mark.parametrize("g_loss", gan_2014.G_LOSSES)
def test_the_authors_update_steps_d_and_g_down_their_own_objectives(digits, g_loss):
    gan = gan_2014.PaperGAN(seed=5, jit_compile=False, g_loss=g_loss,
                            pixel_means=digits.reshape(100, -1).mean(0) / 255.0)
    # Dropout off for this comparison (its masks are drawn inside the update), and
    # fixed noise: the same minibatch here and in the update. With 100 digits and
    # batch 100 the real minibatch is every digit, in an order the mean ignores.
    for layer in gan.discriminator.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    # D's output starts near 1/2 on everything, where the output bias's gradient is
    # a difference of two near-equal halves (real and fake) that float32 cannot
    # resolve to 1e-3; a bias of logit(0.8) is a state where it can.
    gan.discriminator.layers[-1].bias.assign([np.log(4.0)])
    z = tf.constant(gan.host_noise(np.random.default_rng(0), 100))
    gan.noise = lambda n: z
    x = tf.convert_to_tensor(gan.from_pixels(digits))
    g_vars, d_vars = gan.generator.trainable_variables, gan.discriminator.trainable_variables

    def gradients():
        """Both objectives' gradients at the weights now, in the order of gan.params (G's, then D's)."""
        with tf.GradientTape(persistent=True) as tape:
            d_real = gan.discriminator(x, training=True)
            d_fake = gan.discriminator(gan.generator(z, training=True), training=True)
            d_obj = 0.5 * d_objective(d_real, d_fake)  # AdversaryCost2: 0.5 (cost(1, D(X)) + cost(0, D(G(z))))
            g_obj = g_objective(g_loss, d_fake)
        return [g.numpy() for g in tape.gradient(g_obj, g_vars) + tape.gradient(d_obj, d_vars)]

    names = [v.path for v in gan.params]
    assert len(names) == len(g_vars) + len(d_vars)
    lr, momentum = 0.1, 0.5  # mnist.yaml at update 0, pass 0
    grads = gradients()
    gan.train_iteration(x, 100)
    velocities = [v.numpy() for v in gan.velocities]
    assert_step(velocities, [-lr * g for g in grads], names)
    # the second update adds the momentum times the first: v_2 = m v_1 - lr_1 g_1,
    # g_1 the gradients at the weights the first update left
    grads = gradients()
    gan.train_iteration(x, 100)
    lr_1 = 0.1 / 1.000004
    assert_step([v.numpy() for v in gan.velocities],
                [momentum * v1 - lr_1 * g for v1, g in zip(velocities, grads)], names)


def adam_first_moments(gan, model_name, variables):
    """Each variable's Adam first moment, from the checkpoint's own map of the state."""
    state = gan.state_variables()
    key_of = {id(v): k for k, v in gan.weight_variables().items()}
    return [state[f"{model_name}/{key_of[id(v)]}/momentum"] for v in variables]


@pytest.mark.parametrize("g_loss", gan_2014.G_LOSSES)
def test_keras_gan_steps_move_adams_moments_by_the_named_objectives_gradients(digits, g_loss):
    # the literal form, whose calls can be watched (test_iteration_forms.py: the default is the same)
    gan = gan_2014.GAN(seed=6, jit_compile=False, g_loss=g_loss, train_on_batch=True)
    d_vars = [v for layer in gan.discriminator.layers for v in layer.variables]  # 3 Dense: all learned
    g_vars = gan.generator.trainable_variables
    d_moments = adam_first_moments(gan, "d_adam", d_vars)
    g_moments = adam_first_moments(gan, "g_adam", g_vars)
    beta_1 = 0.5
    checked = []

    def expected_gradients(label, inputs):
        statistics = [v.numpy() for v in gan.generator.non_trainable_variables]
        with tf.GradientTape() as tape:
            if label == "G":  # G in training mode (BatchNorm on the batch), as the combined step runs it
                d = gan.discriminator(gan.generator(inputs, training=True), training=True)
                loss = g_objective(g_loss, d)
            else:
                d = gan.discriminator(inputs, training=True)
                loss = -mean_log(d) if label == "D real" else -mean_log(1.0 - d)
        for v, value in zip(gan.generator.non_trainable_variables, statistics):
            v.assign(value)  # this pass is ours, not the step's: its BatchNorm statistics are undone
        return tape.gradient(loss, g_vars if label == "G" else d_vars)

    def spy(model, labels, variables, moments):
        original = model.train_on_batch
        calls = iter(labels)
        def wrapped(inputs, targets):
            label = next(calls)
            grads = expected_gradients(label, inputs)
            before = [m.numpy() for m in moments]
            out = original(inputs, targets)
            assert_step([m.numpy() for m in moments],
                        [beta_1 * m0 + (1 - beta_1) * g.numpy() for m0, g in zip(before, grads)],
                        [f"{label}: {v.path}" for v in variables])
            checked.append(label)
            return out
        model.train_on_batch = wrapped

    spy(gan.discriminator, ["D real", "D fake"] * 2, d_vars, d_moments)
    spy(gan.combined, ["G"] * 2, g_vars, g_moments)
    x = tf.convert_to_tensor(gan.from_pixels(digits))
    for _ in range(2):
        gan.train_iteration(x, 16)
    assert checked == ["D real", "D fake", "G"] * 2
