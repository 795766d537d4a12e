"""The networks are the seed's, layer for layer, with the parameter counts Keras reports for it."""
import numpy as np
import pytest
import keras
from keras import layers

import gan_2014


@pytest.fixture(scope="module")
def gan():
    return gan_2014.GAN(seed=0)


def trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_generator_has_the_seeds_parameter_counts(gan):
    assert gan.generator.count_params() == 1_493_520
    assert trainable_count(gan.generator) == 1_489_936


def test_discriminator_has_the_seeds_parameter_count(gan):
    assert gan.discriminator.count_params() == 533_505
    gan.discriminator.trainable = True
    try:
        assert trainable_count(gan.discriminator) == 533_505
    finally:
        gan.discriminator.trainable = False


def test_generator_layers_are_dense_leakyrelu_batchnorm_then_tanh(gan):
    dense = [l for l in gan.generator.layers if isinstance(l, layers.Dense)]
    assert [d.units for d in dense] == [256, 512, 1024, 784]
    assert dense[-1].activation is keras.activations.tanh
    leaky = [l for l in gan.generator.layers if isinstance(l, layers.LeakyReLU)]
    norms = [l for l in gan.generator.layers if isinstance(l, layers.BatchNormalization)]
    assert [l.negative_slope for l in leaky] == pytest.approx([0.2] * 3)
    assert [l.momentum for l in norms] == pytest.approx([0.8] * 3)
    kinds = [type(l).__name__ for l in gan.generator.layers]
    assert kinds[:3] == ["Dense", "LeakyReLU", "BatchNormalization"]  # activation before BN, as the seed
    assert gan.generator.output_shape == (None, 28, 28, 1)


def test_discriminator_is_a_sigmoid_mlp_512_256(gan):
    dense = [l for l in gan.discriminator.layers if isinstance(l, layers.Dense)]
    assert [d.units for d in dense] == [512, 256, 1]
    assert dense[-1].activation is keras.activations.sigmoid
    assert gan.discriminator.input_shape == (None, 28, 28, 1)


def test_each_model_has_its_own_adam_with_the_seeds_settings(gan):
    d_opt, g_opt = gan.discriminator.optimizer, gan.combined.optimizer
    assert d_opt is not g_opt
    for opt in (d_opt, g_opt):
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(opt.learning_rate) == pytest.approx(0.0002)
        assert opt.beta_1 == pytest.approx(0.5)


def test_combined_model_is_noise_to_generator_to_discriminator(gan):
    assert gan.combined.input_shape == (None, 100)
    assert gan.combined.layers[1] is gan.generator and gan.combined.layers[2] is gan.discriminator
    assert gan.discriminator.loss == "binary_crossentropy" and gan.combined.loss == "binary_crossentropy"


# Every layer of both models, setting by setting: the article's gan.py (Keras
# defaults where it names none: Glorot-uniform kernels, zero biases, BatchNorm's
# epsilon 1e-3) and the authors' final mnist.yaml (uniform +-0.05 in G, +-0.005
# in D, maxout 240 x 5, dropout keeping 0.8 of the inputs and 0.5 of hidden units).
def dense(units, activation="linear", init="GlorotUniform", limit=None):
    return ("Dense", {"units": units, "activation": activation, "use_bias": True,
                      "kernel_initializer": (init, {} if limit is None else {"minval": -limit, "maxval": limit}),
                      "bias_initializer": ("Zeros", {})})


LEAKY = ("LeakyReLU", {"negative_slope": 0.2})
BATCHNORM = ("BatchNormalization", {"axis": -1, "momentum": 0.8, "epsilon": 0.001, "center": True, "scale": True})
MAXOUT = [dense(1200, init="RandomUniform", limit=0.005), ("Reshape", {"target_shape": (240, 5)}),
          ("GlobalMaxPooling1D", {"data_format": "channels_first", "keepdims": False})]
SPEC = {
    ("keras-gan", "generator"): [dense(256), LEAKY, BATCHNORM, dense(512), LEAKY, BATCHNORM, dense(1024), LEAKY,
                                 BATCHNORM, dense(784, "tanh"), ("Reshape", {"target_shape": (28, 28, 1)})],
    ("keras-gan", "discriminator"): [("Flatten", {}), dense(512), LEAKY, dense(256), LEAKY, dense(1, "sigmoid")],
    ("paper", "generator"): [dense(1200, "relu", "RandomUniform", 0.05), dense(1200, "relu", "RandomUniform", 0.05),
                             dense(784, "sigmoid", "RandomUniform", 0.05),
                             ("Reshape", {"target_shape": (28, 28, 1)})],
    ("paper", "discriminator"): [("Flatten", {}), ("Dropout", {"rate": 0.2}), *MAXOUT, ("Dropout", {"rate": 0.5}),
                                 *MAXOUT, ("Dropout", {"rate": 0.5}), dense(1, "sigmoid", "RandomUniform", 0.005)],
}


@pytest.mark.parametrize("arch, network", list(SPEC))
def test_every_layer_setting_is_the_articles_or_the_yamls(arch, network):
    model = getattr(gan_2014.ARCHS[arch](seed=0, jit_compile=False), network)
    built = [(type(layer).__name__, layer.get_config()) for layer in model.layers]
    assert [kind for kind, _ in built] == [kind for kind, _ in SPEC[arch, network]]
    for i, ((kind, config), (_, want)) in enumerate(zip(built, SPEC[arch, network])):
        for key, value in want.items():
            got = config[key]
            if key.endswith("_initializer"):
                got = (got["class_name"], {k: got["config"][k] for k in value[1]})
            assert got == value, f"{network} layer {i} ({kind}): {key}"


@pytest.mark.parametrize("arch, network, limit", [("paper", "generator", 0.05), ("paper", "discriminator", 0.005)])
def test_the_authors_initial_weights_fill_their_uniform_range(arch, network, limit):
    """The yaml's irange, in the weights themselves: uniform on [-limit, limit]."""
    model = getattr(gan_2014.ARCHS[arch](seed=0, jit_compile=False), network)
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            w = layer.kernel.numpy()
            n = w.size  # the largest of n uniform draws falls short of the limit by about limit / n
            assert limit * (1 - 20 / n) < np.abs(w).max() <= limit, layer.name
            sd = limit / np.sqrt(3)
            assert abs(w.mean()) < 5 * sd / np.sqrt(n) and w.std() == pytest.approx(sd, rel=0.1), layer.name


def test_the_optimizers_settings_are_the_articles_and_the_yamls():
    gan = gan_2014.GAN(seed=0, jit_compile=False)
    for opt in (gan.discriminator.optimizer, gan.combined.optimizer):
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2, opt.epsilon) == pytest.approx((2e-4, 0.5, 0.999, 1e-7))
    paper = gan_2014.PaperGAN
    assert (paper.learning_rate, paper.decay, paper.min_lr) == (0.1, 1.000004, 1e-6)  # ExponentialDecay
    assert (paper.momentum_start, paper.momentum_end, paper.saturate) == (0.5, 0.7, 250)  # MomentumAdjustor
    assert (paper.batch_size, paper.train_on, gan_2014.GAN.batch_size) == (100, 50000, 32)
