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
