"""The Parzen estimator against closed forms, the classifier figures' formulas,
and `sample` / `evaluate` end to end on tiny data, bad input included."""
import math
import os

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import commands, evaluation
from gan_2014_utils.data import load_data
from helpers import ROOT, is_png, make_tiny_mnist, train_without_xla

D = 784


def gaussian_log_norm(sigma):
    return D * math.log(sigma * math.sqrt(2 * math.pi))


def test_parzen_one_kernel_one_point_is_the_gaussian_log_density():
    mu = np.zeros((1, D), np.float32)
    x = np.zeros((1, D), np.float32)
    x[0, :4] = 0.5  # squared distance 1
    ll = evaluation.parzen_log_likelihood(x, mu, [0.1, 0.5])
    assert ll[0, 0] == pytest.approx(-1 / (2 * 0.01) - gaussian_log_norm(0.1), abs=1e-3)
    assert ll[1, 0] == pytest.approx(-1 / (2 * 0.25) - gaussian_log_norm(0.5), abs=1e-3)


def test_parzen_is_the_log_of_the_mean_of_the_kernels_and_stays_finite_far_away():
    mu = np.zeros((2, D), np.float32)
    mu[1, 0] = 3.0  # squared distances from x = 0: 0 and 9
    x = np.zeros((1, D), np.float32)
    sigma = 1.0
    expected = math.log(0.5 * (1 + math.exp(-4.5))) - gaussian_log_norm(sigma)
    assert evaluation.parzen_log_likelihood(x, mu, sigma)[0, 0] == pytest.approx(expected, abs=1e-4)
    far = np.full((1, D), 50.0, np.float32)  # exp underflows; log-mean-exp must not
    assert np.isfinite(evaluation.parzen_log_likelihood(far, mu, 0.1)).all()


def test_parzen_chunking_does_not_change_the_result():
    rng = np.random.default_rng(0)
    x, mu = rng.random((37, D), np.float32), rng.random((50, D), np.float32)
    assert np.allclose(evaluation.parzen_log_likelihood(x, mu, [0.2, 0.4], chunk=5),
                       evaluation.parzen_log_likelihood(x, mu, [0.2, 0.4], chunk=1000), rtol=1e-6)


def test_parzen_chooses_sigma_on_the_validation_digits_and_scores_the_test_digits():
    rng = np.random.default_rng(1)
    samples = (rng.random((200, D)) < 0.2).astype(np.float32)
    noisy = lambda s: np.clip(samples[:50] + rng.normal(0, s, (50, D)), 0, 1).astype(np.float32)
    valid, test = samples[:50], noisy(0.3)  # the samples themselves want the smallest sigma; noisy digits a wider one
    best = lambda x: float(evaluation.PARZEN_SIGMAS[np.argmax(evaluation.parzen_log_likelihood(x, samples, evaluation.PARZEN_SIGMAS).mean(1))])
    assert best(valid) == pytest.approx(0.1) and best(test) > 0.2  # the two sets prefer different sigmas
    ll, se, sigma = evaluation.parzen_evaluate(samples, valid, test)
    assert sigma == pytest.approx(0.1)
    per_digit = evaluation.parzen_log_likelihood(test, samples, 0.1)[0]
    assert ll == pytest.approx(per_digit.mean(), rel=1e-12)
    assert se == pytest.approx(per_digit.std() / math.sqrt(50), rel=1e-12)


def test_evaluate_chooses_sigma_on_digits_50000_to_50999_of_a_full_mnist(full_size_data, tmp_path, monkeypatch, capsys):
    """With the authors' held-out digits in the file, evaluate uses them for sigma:
    digits 50,000-50,999 of x_train, and the whole test set to score."""
    run = tmp_path / "g.weights.h5"
    gan_2014.GAN(seed=0, jit_compile=False).generator.save_weights(run)
    # the classifier figures are not what this test is about: an untrained judge, not 8 epochs on 51,200 digits
    monkeypatch.setattr(commands, "load_or_train_classifier", lambda *a, **k: (evaluation.build_classifier(), 0.1, "untrained"))
    calls = []
    original = evaluation.parzen_evaluate
    def spy(samples, x_valid, x_test):
        calls.append((x_valid, x_test))
        return original(samples, x_valid, x_test)
    monkeypatch.setattr(commands, "parzen_evaluate", spy)
    gan_2014.main(["evaluate", "--weights", str(run), "--data", full_size_data, "--samples", "20"])
    assert "sigma chosen from numpy.logspace(-1, 0, 10) on training digits 50,000-50,999 (the authors' choice)" \
        in capsys.readouterr().out
    (x_train, _), (x_test, _) = load_data(full_size_data)
    assert len(calls) == 2  # the generator's row and the real digits' row
    for x_valid, x_scored in calls:
        np.testing.assert_array_equal(x_valid, x_train[50000:51000].astype(np.float32) / 255.0)
        np.testing.assert_array_equal(x_scored, x_test.astype(np.float32) / 255.0)


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (200000, 3)) * [1.0, 2.0, 0.5]
    b = rng.normal(0, 1, (200000, 3)) * [2.0, 1.0, 0.5] + [1.0, 0.0, 0.0]
    # diagonal covariances: |mu1 - mu2|^2 + sum (s1 - s2)^2 = 1 + 1 + 1 + 0
    assert evaluation.frechet_distance(a, b) == pytest.approx(3.0, abs=0.05)
    assert evaluation.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


class FakeJudge:
    def __init__(self, probs):
        self.probs = probs
    def predict(self, x, **kwargs):
        return np.zeros((len(x), 4)), self.probs


def test_classifier_score_histogram_and_coverage_formulas():
    confident_all_classes = np.eye(10)[np.arange(1000) % 10]
    f = evaluation.classifier_figures(FakeJudge(confident_all_classes), np.zeros((1000, 28, 28)))
    assert f["score"] == pytest.approx(10, rel=1e-6) and f["covered"] == 10 and f["kl"] == pytest.approx(0)
    collapsed = np.eye(10)[np.full(1000, 3)]
    f = evaluation.classifier_figures(FakeJudge(collapsed), np.zeros((1000, 28, 28)))
    assert f["score"] == pytest.approx(1, rel=1e-6) and f["covered"] == 1
    assert f["kl"] == pytest.approx(math.log(10))
    assert f["hist"][3] == 1.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of a few iterations on tiny data, to sample from and evaluate (its numbers are not tested here)."""
    folder = tmp_path_factory.mktemp("trained")
    data = make_tiny_mnist(folder / "tiny.npz", n_train=200, n_test=50)
    train_without_xla(["--data", data, "--epochs", "3", "--batch-size", "16", "--seed", "2",
                   "--images", str(folder / "images"), "--run-dir", str(folder / "run")])
    return folder, data


def test_sample_writes_a_grid_or_arrays_and_a_seed_repeats_them(trained, capsys):
    folder, _ = trained
    run = str(folder / "run")
    gan_2014.main(["sample", "--weights", run, "--n", "9", "--out", str(folder / "s.png"), "--seed", "4"])
    assert is_png(folder / "s.png")
    gan_2014.main(["sample", "--weights", run, "--n", "9", "--out", str(folder / "a.npz"), "--seed", "4"])
    gan_2014.main(["sample", "--weights", run + "/generator.weights.h5", "--n", "9",
                   "--out", str(folder / "b.npy"), "--seed", "4"])
    gan_2014.main(["sample", "--weights", run, "--n", "9", "--out", str(folder / "c.npy"), "--seed", "5"])
    a, b, c = np.load(folder / "a.npz")["images"], np.load(folder / "b.npy"), np.load(folder / "c.npy")
    assert a.shape == (9, 28, 28) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_evaluate_prints_the_table_and_caches_the_classifier(trained, capsys):
    folder, data = trained
    argv = ["evaluate", "--weights", str(folder / "run"), "--data", data, "--samples", "100",
            "--cache", str(folder / "cache")]
    gan_2014.main(argv)
    first = capsys.readouterr().out
    # the paper's figure first; then, before the classifier trains: what, why, how
    # long, where it is cached; then its progress, then the table
    figure = first.index("generator (100 samples): Parzen LL ")
    said = first.index("training a small MNIST classifier for the classifier figures")
    assert first.index("Parzen window") < figure < said
    assert "(8 epochs on 200 digits, under a minute on 2 CPU cores)" in first[said:].splitlines()[0]
    assert f"cached in {folder / 'cache'}" in first[said:].splitlines()[0]
    assert "Epoch 1/8" in first[said:first.index("Parzen LL ± SE")]
    assert "Classifier: a small convnet, trained on x_train (" in first
    for words in ("Parzen LL ± SE", "generator (100 samples)", "real training digits (first 100)",
                  "test digits (reference)", "training digits 0-199 (the last 200", "class histogram"):
        assert words in first
    histogram = first[first.index("class histogram"):].splitlines()[1:4]
    for name in ("generator (100 samples)", "real training digits (first 100)", "test digits"):
        # each row's label whole, then ten percentages
        assert any(line.startswith("  " + name + " ") and len(line[len(name) + 2:].split()) == 10
                   for line in histogram), (name, histogram)
    assert len(os.listdir(folder / "cache")) == 1
    gan_2014.main(argv)
    second = capsys.readouterr().out
    assert "training a small MNIST classifier" not in second
    table = lambda out: [l for l in out.splitlines() if l.startswith(("generator (", "real training"))]
    assert table(first) == table(second)  # same samples, same cached judge: same figures


def fails(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and words in err[0], err


def test_sample_and_evaluate_refuse_bad_input_in_one_line(trained, capsys, tmp_path):
    folder, data = trained
    run = str(folder / "run")
    fails(capsys, ["sample", "--weights", str(tmp_path)], "no checkpoint.npz or generator weights at")
    fails(capsys, ["evaluate", "--weights", str(tmp_path / "x.weights.h5"), "--data", data], "no such file or folder")
    (tmp_path / "bad.weights.h5").write_bytes(b"not hdf5")
    fails(capsys, ["sample", "--weights", str(tmp_path / "bad.weights.h5")], "not a generator weights file of gan_2014")
    fails(capsys, ["evaluate", "--weights", run, "--samples", "0"], "--samples")
    fails(capsys, ["sample", "--weights", run, "--out", str(tmp_path / "s.jpg")], "end it in .png, .npz or .npy")


def test_the_full_mnist_is_judged_by_the_shipped_classifier_without_training(full_mnist, tmp_path, capsys):
    """A fresh machine: an empty cache, and the paper's number without a minute of training."""
    (x_train, y_train), _ = load_data(full_mnist)
    assert evaluation.classifier_key(x_train, y_train) == evaluation.SHIPPED_CLASSIFIER_KEY
    weights = os.path.join(ROOT, "pretrained", "paper-mnist.weights.h5")
    gan_2014.main(["evaluate", "--weights", weights, "--data", full_mnist, "--samples", "200",
                   "--cache", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert "training a small MNIST classifier" not in out and not (tmp_path / "cache").exists()
    said = f"Classifier: a small convnet, shipped in {os.path.relpath(evaluation.SHIPPED_CLASSIFIER)}, " \
           "trained on this x_train ("
    assert said in out
    accuracy = out[out.index(said) + len(said):].split("%")[0]
    with open(os.path.join(ROOT, "pretrained", "README.md")) as f:
        assert f"{accuracy}% on the 10,000 test digits" in f.read()  # the file is the one documented
    assert out.index("generator (200 samples): Parzen LL ") < out.index("Classifier:")


def test_other_data_trains_its_own_classifier_beside_the_shipped_one(tmp_path, capsys):
    data = make_tiny_mnist(tmp_path / "tiny.npz", n_train=100, n_test=20)
    (x, y), (xt, yt) = load_data(data)
    model, accuracy, where = evaluation.load_or_train_classifier(x, y, xt, yt, str(tmp_path / "cache"), epochs=1)
    assert where == "trained on x_train" and "shipped classifier" not in capsys.readouterr().out
    assert os.path.exists(evaluation.SHIPPED_CLASSIFIER)  # it was there, and not taken


@pytest.mark.parametrize("content, why", [(b"not the shipped weights", "is not the shipped file"),
                                          (None, "cannot be read")])
def test_a_shipped_classifier_file_that_is_not_the_shipped_one_is_not_trusted(tmp_path, monkeypatch, capsys,
                                                                             content, why):
    data = make_tiny_mnist(tmp_path / "tiny.npz", n_train=100, n_test=20)
    (x, y), (xt, yt) = load_data(data)
    shipped = tmp_path / "mnist-classifier.weights.h5"
    if content is not None:
        shipped.write_bytes(content)
    # this data stands for the full MNIST, and the shipped file is damaged or gone
    monkeypatch.setattr(evaluation, "SHIPPED_CLASSIFIER_KEY", evaluation.classifier_key(x, y, 1))
    monkeypatch.setattr(evaluation, "SHIPPED_CLASSIFIER", str(shipped))
    model, accuracy, where = evaluation.load_or_train_classifier(x, y, xt, yt, str(tmp_path / "cache"), epochs=1)
    out = capsys.readouterr().out
    said = [l for l in out.splitlines() if l.startswith("gan_2014: the shipped classifier")]
    assert len(said) == 1 and said[0].startswith(f"gan_2014: the shipped classifier {os.path.relpath(shipped)} {why}")
    assert said[0].endswith("; training one instead")
    assert where == "trained on x_train" and "training a small MNIST classifier" in out
