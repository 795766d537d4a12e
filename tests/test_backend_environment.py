"""Bad environments (issue 43): a Keras backend gan_2014 does not run on, one
that is not installed, one that does not import: one line, exit 2, nothing
written."""
import importlib.util
import os

import pytest

import gan_2014
from helpers import ROOT, make_tiny_mnist, run_script, tree


@pytest.mark.parametrize("name", ["numpy", "openvino", "tensorfow"])
def test_a_backend_we_do_not_run_on_is_one_line_naming_the_three(tmp_path, name):
    make_tiny_mnist(tmp_path / "tiny.npz")
    before = tree(tmp_path)
    done = run_script("--data", "tiny.npz", cwd=tmp_path, env=dict(os.environ, KERAS_BACKEND=name))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "tensorflow, jax, torch" in done.stderr and name in done.stderr
    assert tree(tmp_path) == before


def test_a_backend_that_is_not_installed_gives_the_pip_command(tmp_path, monkeypatch, capsys):
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "jax" else real(n, *a))
    with pytest.raises(SystemExit) as e:
        gan_2014.main(["--data", "tiny.npz"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "pip install jax" in err and err.count("\n") == 1
    assert tree(tmp_path) == before


def test_a_backend_that_does_not_import_is_one_line_before_any_folder_is_made(tmp_path):
    """An installed backend whose import fails (a broken or partial install: a jax
    that raises ImportError, first on the path) is refused like a missing one."""
    fake = tmp_path / "fake" / "jax"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('libjax.so: cannot open shared object file')\n")
    project = tmp_path / "project"
    project.mkdir()
    make_tiny_mnist(project / "tiny.npz")
    before = tree(project)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(tmp_path / "fake"))
    for args in (["--data", "tiny.npz"], ["sample", "--weights", os.path.join(ROOT, "pretrained", "paper-mnist.weights.h5")]):
        done = run_script(*args, cwd=project, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "libjax.so" in done.stderr and "pip install jax" in done.stderr
        assert tree(project) == before
