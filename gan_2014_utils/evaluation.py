"""Evaluation: the paper's yardstick (Parzen windows, as the authors'
parzen_ll.py), the nearest training digits (Figure 2), and what Parzen windows
could not show: a small MNIST classifier's figures of quality and mode coverage."""
import hashlib
import os
import sys

import numpy as np

from gan_2014_utils.data import unit_pixels
from gan_2014_utils.files import atomic_write, file_sha256
from gan_2014_utils import backend
from gan_2014_utils.process import WriteError, lazy, say

keras, layers = lazy("keras"), lazy("keras.layers")

MONITOR_SAMPLES = 10000   # generator samples per held-out estimate, as many as the final evaluation
PARZEN_SIGMAS = np.logspace(-1, 0, 10)  # the authors' grid (parzen_ll.py: --sigma_start -1 --sigma_end 0)


def parzen_log_likelihood(x, mu, sigmas, chunk=500):
    """log p(x) for each row of x under the mean of isotropic Gaussians of width
    sigma centred on the rows of mu, for each sigma: shape (len(sigmas), len(x)).

    As the authors' parzen_ll.py: log-mean-exp of -|x - mu|^2 / (2 sigma^2),
    minus d log(sigma sqrt(2 pi)). The distances come from one matrix product
    per chunk of x (memory stays at chunk x len(mu)); all in float64, since
    |x|^2 - 2 x.mu + |mu|^2 loses digits to cancellation in float32."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    mu = np.asarray(mu, np.float64).reshape(len(mu), -1)
    sigmas = np.atleast_1d(np.asarray(sigmas, np.float64))
    d = x.shape[1]
    mu_sq = np.einsum("ij,ij->i", mu, mu)
    out = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), chunk):
        xc = x[start:start + chunk]
        sq = np.einsum("ij,ij->i", xc, xc)[:, None] - 2.0 * (xc @ mu.T) + mu_sq[None, :]
        sq = np.maximum(sq, 0.0)
        for k, sigma in enumerate(sigmas):
            a = sq * (-0.5 / sigma ** 2)
            m = a.max(axis=1)
            out[k, start:start + chunk] = (m + np.log(np.mean(np.exp(a - m[:, None]), axis=1))
                                           - d * np.log(sigma * np.sqrt(2 * np.pi)))
    return out


def parzen_evaluate(samples, x_valid, x_test):
    """The authors' protocol: sigma by the mean log-likelihood of x_valid,
    then the test digits' mean log-likelihood and its standard error."""
    valid_ll = parzen_log_likelihood(x_valid, samples, PARZEN_SIGMAS).mean(axis=1)
    sigma = float(PARZEN_SIGMAS[int(np.argmax(valid_ll))])
    ll = parzen_log_likelihood(x_test, samples, sigma)[0]
    return float(ll.mean()), float(ll.std() / np.sqrt(len(ll))), sigma



def heldout_monitor(x_sigma, x_scored, samples=MONITOR_SAMPLES, seed=0):
    """monitor(gan) for GAN.train: the Parzen estimate of the scored digits under
    `samples` digits of the generator, sigma chosen on x_sigma, the same noise each time."""
    def monitor(gan):
        return parzen_evaluate(generate(gan, samples, seed), x_sigma, x_scored)
    return monitor


def generate(gan, n, seed, batch=1000):
    """n samples in [0, 1] from the generator (inference-mode BatchNorm), as the data
    holds images: (n, rows, cols) in grey, (n, rows, cols, 3) in colour."""
    z = gan.host_noise(np.random.default_rng(seed), n)
    out = [keras.ops.convert_to_numpy(gan.generator(z[i:i + batch], training=False)) for i in range(0, n, batch)]
    return as_data(gan.to_unit(np.concatenate(out)))


def as_data(images):
    """Generator output (n, rows, cols, channels) in the data's own layout: grey without a channel axis."""
    return images[..., 0] if images.shape[-1] == 1 else images


def nearest_digits(samples, digits, chunk=512):
    """For each sample, the index of the nearest digit (Euclidean distance of
    [0, 1] pixels) and that distance, in blocks of `chunk` x `chunk`, so 10,000
    samples against 60,000 digits need a few tens of MB, not gigabytes."""
    a = samples.reshape(len(samples), -1).astype(np.float64)
    index = np.zeros(len(a), np.int64)
    best = np.full(len(a), np.inf)
    for start in range(0, len(digits), 4 * chunk):
        b = digits[start:start + 4 * chunk].reshape(-1, a.shape[1]).astype(np.float64) / 255.0
        b_sq = np.einsum("ij,ij->i", b, b)
        for s in range(0, len(a), chunk):
            block = a[s:s + chunk]
            sq = np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ b.T + b_sq[None, :]
            j = np.argmin(sq, axis=1)
            better = sq[np.arange(len(block)), j] < best[s:s + chunk]
            best[s:s + chunk][better] = sq[np.arange(len(block)), j][better]
            index[s:s + chunk][better] = start + j[better]
    nearest = unit_pixels(digits[index])
    distance = np.sqrt(((a - nearest.reshape(len(a), -1)) ** 2).sum(1))  # exact, for the chosen ones
    return index, nearest, distance


def build_classifier():
    """A small convnet for MNIST: the judge of the samples, not part of the GAN."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.3),
        layers.Dense(128, activation="relu", name="features"),  # the Fréchet distance's features
        layers.Dense(10, activation="softmax"),
    ], name="mnist_classifier")


CLASSIFIER_EPOCHS = 8  # 98.8% test accuracy on mnist-24k.npz (98.4% after 4)
CLASSIFIER_RECIPE = "conv32-pool-conv64-pool-drop0.3-dense128-dense10 adam batch=128 epochs={} seed=0"
# The classifier of the full MNIST, trained by this recipe and shipped, so the
# first `evaluate` on that data needs no training: pretrained/README.md says how
# it was made. Found by the key of the data it judges, checked by its sha256.
SHIPPED_CLASSIFIER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained",
                                  "mnist-classifier.weights.h5")
SHIPPED_CLASSIFIER_KEY = "01670338e5ac5446"  # classifier_key() of the full MNIST's 60,000 training digits
SHIPPED_CLASSIFIER_SHA256 = "8f1192ba4658b6edc1a8fc358a0802dd6d80440d2867e11e996c392c9c37ff85"



def classifier_key(x_train, y_train, epochs=None):
    """The classifier's identity: its training digits, their labels and the recipe
    (CLASSIFIER_EPOCHS unless `epochs` says otherwise)."""
    recipe = CLASSIFIER_RECIPE.format(CLASSIFIER_EPOCHS if epochs is None else epochs).encode()
    return hashlib.sha256(x_train.tobytes() + np.asarray(y_train, np.int64).tobytes() + recipe).hexdigest()[:16]



def shipped_classifier(key):
    """The shipped classifier if `key` is the data it was trained on and the file
    is the one shipped; else None (and a line saying why, if the file is not)."""
    if key != SHIPPED_CLASSIFIER_KEY:
        return None
    where = os.path.relpath(SHIPPED_CLASSIFIER)
    try:
        whole = file_sha256(SHIPPED_CLASSIFIER) == SHIPPED_CLASSIFIER_SHA256
    except OSError as e:
        whole, why = False, f"cannot be read: {e.strerror or e}"
    else:
        why = "is not the shipped file (its sha256 differs)"
    if not whole:
        say(f"gan_2014: the shipped classifier {where} {why}; training one instead")
        return None
    model = build_classifier()
    model.load_weights(SHIPPED_CLASSIFIER)
    return model


def load_or_train_classifier(x_train, y_train, x_test, y_test, cache_dir, epochs=None):
    """The classifier for this data: the shipped one for the full MNIST; else
    trained once and cached under a key made from the data and the recipe, so
    another file (or recipe) trains its own. Returns (model, test accuracy, where
    it came from)."""
    epochs = CLASSIFIER_EPOCHS if epochs is None else epochs
    key = classifier_key(x_train, y_train, epochs)
    # Weights only, as the shipped one: saving a whole-model .keras file makes Keras
    # import TensorFlow whenever it is installed, whatever the backend.
    path = os.path.join(cache_dir, f"classifier-{key}.weights.h5")
    x01_test = unit_pixels(x_test)[..., None]
    accuracy = lambda m: float(np.mean(np.argmax(m.predict(x01_test, verbose=0), 1) == y_test))
    model = shipped_classifier(key)  # the key holds the recipe: another recipe trains its own
    if model is not None:
        return model, accuracy(model), f"shipped in {os.path.relpath(SHIPPED_CLASSIFIER)}, trained on this x_train"
    if os.path.exists(path):
        try:
            model = build_classifier()
            model.load_weights(path)  # another model's weights under its name do not fit: retrained
        except Exception:
            model = None  # a damaged cache entry is retrained, not trusted
        if model is not None:
            return model, accuracy(model), f"trained on x_train, cached in {path}"
    # 49-85 s an epoch of 60,000 digits, measured on 2 CPU cores that a training shared
    low, high = (len(x_train) * epochs / 60000 * s / 60 for s in (49, 85))
    took = "under a minute" if high < 1 else f"about {max(1, round(low))}-{max(1, round(high))} min"
    print(f"gan_2014: training a small MNIST classifier for the classifier figures ({epochs} epochs on "
          f"{len(x_train):,} digits, {took} on 2 CPU cores); this happens once for this data "
          f"(only the full MNIST has a shipped one): it is cached in {path}", flush=True)
    backend.set_random_seed(0)
    model = build_classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(unit_pixels(x_train)[..., None], np.asarray(y_train, np.int64),
              batch_size=128, epochs=epochs, verbose=1 if sys.stdout.isatty() else 2)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        atomic_write(path, model.save_weights)
    except (OSError, WriteError) as e:
        print(f"gan_2014: could not cache the classifier in {cache_dir} ({e})", file=sys.stderr)
    return model, accuracy(model), "trained on x_train"


def frechet_distance(f1, f2):
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with the trace of the root
    from the eigenvalues of S1^(1/2) S2 S1^(1/2) (symmetric, so no scipy needed)."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def classifier_figures(judge, images01, test_features=None):
    """Class histogram, digits covered, KL to uniform, classifier score, and the
    Fréchet distance of the penultimate features to `test_features` (if given).
    `judge` maps digits to (penultimate features, class probabilities)."""
    feats, probs = judge.predict(images01[..., None], batch_size=500, verbose=0)
    probs = np.clip(probs.astype(np.float64), 1e-12, 1)
    hist = np.bincount(np.argmax(probs, 1), minlength=10) / len(probs)
    p_y = probs.mean(0)
    score = float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(p_y)), axis=1))))
    nz = hist > 0
    kl_uniform = float(np.sum(hist[nz] * np.log(hist[nz] * 10)))
    return dict(hist=hist, covered=int(np.sum(hist >= 0.01)), kl=kl_uniform, score=score,
                fd=None if test_features is None else frechet_distance(feats.astype(np.float64), test_features),
                features=feats)

