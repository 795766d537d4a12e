"""The README's promise, class by class (issue 16): runs are never mixed,
restarted or overwritten without --overwrite; every refusal names a fix, and
the fix works; a wrong kind of file where the run writes is found before
anything is removed or trained; bad input ends in one line; signals and
unread output neither crash nor poison a run.

Each case: the exit status, exactly one line from gan_2014 and no traceback,
every file already there byte-identical after a refusal, and then the fix the
line names, followed, succeeds."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import gan_2014
from gan_2014_utils import pictures, run_folder
from gan_2014_utils import history as run_history
from helpers import SCRIPT, env_without_xla, make_tiny_mnist, place_run, start_script, train_named_run, tree

TINY = ["--epochs", "6", "--batch-size", "16", "--sample-interval", "3", "--checkpoint-interval", "3"]


@pytest.fixture(autouse=True)
def _no_xla(no_xla):
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished TINY runs, A (seed 2, with a best/ generator) and B (seed 3), on the same data."""
    folder = tmp_path_factory.mktemp("runs")
    make_tiny_mnist(folder / "tiny.npz")
    for name, seed in (("A", "2"), ("B", "3")):
        train_named_run(folder, name, "--seed", seed, *TINY, "--eval-every", "3")
    return folder


@pytest.fixture
def work(runs, tmp_path, monkeypatch):
    """Run A in a fresh folder as if trained there, B beside it in other/."""
    for name, dest in (("A", tmp_path), ("B", tmp_path / "other")):
        place_run(runs / name, dest, tmp_path / "tiny.npz")
    shutil.copy(runs / "tiny.npz", tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def attempt(capsys, argv, code=2, unchanged=True):
    """main(argv) in this process: `code`, one line, no traceback, and (for a
    refusal) every file in the working folder as it was. Returns the line."""
    before = tree(os.getcwd())
    with pytest.raises(SystemExit) as exit_info:
        gan_2014.main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert exit_info.value.code == code and len(lines) == 1 and "Traceback" not in err, err
    if unchanged:
        assert tree(os.getcwd()) == before
    return lines[0]


def succeeds(capsys, argv):
    gan_2014.main(argv)  # no SystemExit: exit status 0
    return capsys.readouterr()


def history_iterations(folder):
    return [r[0] for r in run_history.read_history(str(folder / "run" / "history.csv"), upto=10 ** 9)]


def move_away(*names):
    def fix(w):
        for name in names:
            os.rename(w / name, w / (name.replace("/", "_") + ".moved"))
    return fix


def put_back(name):
    def fix(w):
        os.remove(w / name) if not os.path.isdir(w / name) else shutil.rmtree(w / name)
        shutil.copy(w / "saved" / os.path.basename(name), w / name)
    return fix


def keep(name):
    def setup(w):
        os.makedirs(w / "saved", exist_ok=True)
        shutil.copy(w / name, w / "saved" / os.path.basename(name))
    return setup


# -----------------------------------------------------------------------------
# 1 and 2: runs mixed, restarted or overwritten; and every refusal's fix, followed

RESUME9 = ["--resume", "--epochs", "9"]
OVERWRITE = ["--data", "tiny.npz", "--epochs", "2", *TINY[2:], "--overwrite"]

REFUSALS = [
    # (case, damage, argv, words in the line, the fix it names, the command after the fix)
    ("another run's checkpoint",
     lambda w: (keep("run/checkpoint.npz")(w), shutil.copy(w / "other/run/checkpoint.npz", w / "run")),
     RESUME9, "belongs to another run", put_back("run/checkpoint.npz"), RESUME9),
    ("another run's checkpoint, the fix is --overwrite",
     lambda w: shutil.copy(w / "other/run/checkpoint.npz", w / "run"),
     RESUME9, "--overwrite (deletes this one)", None, OVERWRITE),
    ("another run's history",
     lambda w: shutil.copy(w / "other/run/history.csv", w / "run"),
     RESUME9, "history.csv belongs to another run", move_away("run/history.csv"), RESUME9),
    ("another run's grids in the run's grid folder",
     lambda w: (shutil.rmtree(w / "images"), shutil.copytree(w / "other/images", w / "images")),
     RESUME9, "holds another run's grids", move_away("images"), RESUME9),
    ("a run's files without run.json",
     lambda w: [os.remove(w / "run" / n) for n in ("run.json", "checkpoint.npz", "history.csv", "losses.png")],
     ["--data", "tiny.npz", *TINY], "holds a run's files (generator.weights.h5", None, OVERWRITE),
    ("a missing checkpoint of a run that had one",
     lambda w: (keep("run/checkpoint.npz")(w), os.remove(w / "run/checkpoint.npz")),
     RESUME9, "checkpoint.npz is missing, but this run had written one (its history reaches iteration 6)",
     lambda w: shutil.copy(w / "saved/checkpoint.npz", w / "run"), RESUME9),
    ("a missing checkpoint, the fix is --overwrite",
     lambda w: os.remove(w / "run/checkpoint.npz"), RESUME9, "--overwrite (deletes this one)", None, OVERWRITE),
    ("the grid folder replaced by a file",
     lambda w: (shutil.rmtree(w / "images"), (w / "images").write_text("a file")),
     RESUME9, "is not a folder); move it away and --resume again", move_away("images"), RESUME9),
    ("a finished run resumed without more iterations",
     lambda w: None, ["--resume"], "pass a larger --epochs", None, RESUME9),
]


@pytest.mark.parametrize("case, damage, argv, words, fix, then", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_each_refusal_leaves_the_folder_as_it_was_and_its_fix_works(work, capsys, case, damage, argv, words,
                                                                    fix, then):
    damage(work)
    line = attempt(capsys, argv)
    assert words in line, line
    if fix:
        fix(work)
    succeeds(capsys, then)
    assert history_iterations(work)[-1] == int(then[then.index("--epochs") + 1])


def test_another_runs_checkpoint_never_mixes_into_the_history_or_grids(work, capsys):
    """The probe's case: B's checkpoint in A's folder; before, A resumed from it silently."""
    shutil.copy(work / "other/run/checkpoint.npz", work / "run")
    attempt(capsys, RESUME9)
    assert json.loads((work / "run/run.json").read_text())["seed"] == 2


RECOVERED = [
    ("run.json missing", lambda w: os.remove(w / "run/run.json")),
    ("run.json garbage", lambda w: (w / "run/run.json").write_bytes(b"\x00\xff garbage")),
    ("run.json of the wrong kind", lambda w: (w / "run/run.json").write_text("[1, 2]")),
    ("the grid folder's mark lost", lambda w: os.remove(w / "images" / pictures.OWNER)),
    ("the grid folder lost", lambda w: shutil.rmtree(w / "images")),
]


@pytest.mark.parametrize("case, damage", RECOVERED, ids=[c[0] for c in RECOVERED])
def test_what_the_run_itself_can_rebuild_resumes_without_a_fix(work, capsys, case, damage):
    damage(work)
    succeeds(capsys, RESUME9)
    assert history_iterations(work) == list(range(1, 10))
    assert json.loads((work / "run/run.json").read_text())["seed"] == 2
    assert pictures.grid_owner(str(work / "images")) == json.loads((work / "run/run.json").read_text())["run_id"]


def test_a_checkpoint_killed_during_the_final_weights_write_is_finished_by_resume(work, capsys):
    for name in ("generator.weights.h5", "discriminator.weights.h5"):
        os.remove(work / "run" / name)
    def state():  # the model's state and the iteration; the files it records change with the rewritten weights
        with np.load(work / "run/checkpoint.npz") as f:
            return {k: f[k].tobytes() for k in f.files if k != "meta"}, json.loads(str(f["meta"]))["iteration"]
    before = state()
    out = succeeds(capsys, ["--resume"]).out
    assert "already at iteration 6: writing its final weights" in out
    assert os.path.getsize(work / "run/generator.weights.h5") > 0
    assert state() == before and history_iterations(work) == list(range(1, 7))
    succeeds(capsys, RESUME9)  # and the rewritten weights are the run's own from then on


def test_a_run_killed_before_its_first_checkpoint_starts_again(work, capsys):
    for name in ("checkpoint.npz", "generator.weights.h5", "discriminator.weights.h5"):
        os.remove(work / "run" / name)
    shutil.rmtree(work / "run/best")
    run_history.write_history(str(work / "run/history.csv"), run_history.read_history(str(work / "run/history.csv"), 2))
    settings = json.loads((work / "run/run.json").read_text())
    (work / "run/run.json").write_text(json.dumps(dict(settings, checkpointed=False)))
    assert "starting again (no checkpoint yet)" in succeeds(capsys, ["--resume"]).out
    assert history_iterations(work) == list(range(1, 7))


def test_a_training_whose_folders_were_replaced_stops_and_writes_nothing_there(tmp_path, monkeypatch, capsys):
    """rm -rf run images while a training runs, and a new run takes the paths:
    the first stops in one line, and the new run's files stay as it wrote them."""
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    first = start_script("--data", data, "--epochs", "100000", "--batch-size", "16", "--checkpoint-interval", "2",
                         "--sample-interval", "5", "--log-every", "1", cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while not os.path.exists(tmp_path / "run/checkpoint.npz") and time.time() < deadline:
            time.sleep(0.2)
        os.kill(first.pid, signal.SIGSTOP)  # hold it while its folders are replaced
        shutil.rmtree(tmp_path / "run")
        shutil.rmtree(tmp_path / "images")
        monkeypatch.chdir(tmp_path)
        succeeds(capsys, ["--data", data, "--epochs", "2", "--batch-size", "16"])  # the new run, here
        after_second = tree(tmp_path)
        os.kill(first.pid, signal.SIGCONT)
        out, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "was removed or replaced while this run trained" in lines[0], err
    assert tree(tmp_path) == after_second


def test_a_folder_removed_in_the_middle_of_a_write_is_named_as_removed_not_as_a_full_disk(tmp_path, monkeypatch,
                                                                                          capsys):
    """rm -rf run while a checkpoint is being written (its temporary file goes with
    the folder): the write fails, and the line must say the folder went away, not
    blame the disk or name a checkpoint that is not there any more."""
    make_tiny_mnist(tmp_path / "tiny.npz")
    monkeypatch.chdir(tmp_path)
    savez, calls = np.savez, []
    def removed_while_writing(file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 2:  # the second checkpoint, at iteration 4
            shutil.rmtree(tmp_path / "run")
        return savez(file, *args, **kwargs)
    monkeypatch.setattr(gan_2014.np, "savez", removed_while_writing)
    line = attempt(capsys, ["--data", "tiny.npz", *TINY[2:], "--epochs", "6", "--checkpoint-interval", "2"],
                   code=1, unchanged=False)
    assert "run/ was removed or replaced while this run trained" in line, line
    assert not os.path.exists(tmp_path / "run")


# -----------------------------------------------------------------------------
# 3: a wrong kind of file where the run writes, found before anything is removed or trained


def fifo(path):
    os.mkfifo(path)


WRONG_KINDS = [
    ("run/history.csv", os.mkdir), ("run/checkpoint.npz", os.mkdir), ("run/.lock", os.mkdir),
    ("images/progress.gif", os.mkdir), ("images/3.png", os.mkdir), ("run/losses.png", fifo),
    ("run/best", lambda p: p.write_text("a file where a folder goes")), ("images/" + pictures.OWNER, os.mkdir),
    ("run/best/best.json", os.mkdir),
]


def put_wrong_kind(work, name, make):
    path = work / name
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        os.remove(path)
    make(path)


@pytest.mark.parametrize("name, make", WRONG_KINDS, ids=[c[0] for c in WRONG_KINDS])
@pytest.mark.parametrize("argv", [RESUME9, OVERWRITE], ids=["resume", "overwrite"])
def test_a_wrong_kind_of_file_where_the_run_writes_is_refused_before_anything_changes(work, capsys, name, make,
                                                                                     argv):
    put_wrong_kind(work, name, make)
    line = attempt(capsys, argv)  # with --overwrite too: the old run's files are all still there
    assert name.split("/")[-1] in line and "move it away and" in line, line


@pytest.mark.parametrize("name, make", WRONG_KINDS[:3], ids=[c[0] for c in WRONG_KINDS[:3]])
def test_moving_the_wrong_kind_of_file_away_lets_the_overwrite_go_on(work, capsys, name, make):
    put_wrong_kind(work, name, make)
    attempt(capsys, OVERWRITE)
    os.rename(work / name, work / "moved")
    succeeds(capsys, OVERWRITE)
    assert history_iterations(work) == [1, 2]


# -----------------------------------------------------------------------------
# 4: bad input that used to crash or mislead


def one_digit(path, split="train"):
    arrays = dict(np.load(make_tiny_mnist(path)))
    arrays[f"x_{split}"], arrays[f"y_{split}"] = arrays[f"x_{split}"][:1], arrays[f"y_{split}"][:1]
    np.savez(path, **arrays)
    return str(path)


BAD_INPUT = [
    ("one training digit and --eval-every", lambda w: one_digit(w / "one.npz"),
     ["--data", "one.npz", "--batch-size", "1", "--eval-every", "1", "--run-dir", "new"],
     "--eval-every needs at least 2 training digits"),
    ("evaluate on one test digit", lambda w: one_digit(w / "one.npz", "test"),
     ["evaluate", "--weights", "run", "--data", "one.npz"], "evaluate needs at least 2 test digits"),
    ("evaluate on one training digit", lambda w: one_digit(w / "one.npz"),
     ["evaluate", "--weights", "run", "--data", "one.npz"], "evaluate needs at least 2 training digits"),
    ("--eval-every 00 is 0, and a run folder is there", lambda w: None,
     ["--data", "tiny.npz", "--eval-every", "00"], "already holds a run"),
    ("an empty --images", lambda w: None, ["--data", "tiny.npz", "--images", "", "--run-dir", "new"],
     "argument --images: is empty"),
    ("an empty --run-dir", lambda w: None, ["--data", "tiny.npz", "--run-dir", ""], "argument --run-dir: is empty"),
    ("an empty --weights", lambda w: None, ["sample", "--weights", ""], "argument --weights: is empty"),
    ("an empty --out", lambda w: None, ["sample", "--weights", "run", "--out", ""], "argument --out: is empty"),
    ("a data file name that starts with a dash", lambda w: None, ["--data", "-dash.npz"],
     "as a path (./-x.npz)"),
    ("a file name with a newline", lambda w: None, ["--data", "two\nlines.npz", "--run-dir", "new"],
     "two\\nlines.npz: no such file"),
    ("a pipe as --weights", lambda w: os.mkfifo(w / "pipe"), ["sample", "--weights", "pipe"],
     "not a regular file (a pipe"),
    ("/dev/null as --weights", lambda w: None, ["sample", "--weights", os.devnull], "not a regular file (a pipe"),
    ("a broken link as --weights", lambda w: os.symlink(w / "nowhere", w / "link.h5"),
     ["sample", "--weights", "link.h5"], "not a regular file"),
    ("sample --out in new folders, with bad weights", lambda w: None,
     ["sample", "--weights", "nowhere", "--out", "new/dir/x.png"], "no such file or folder"),
    ("a pipe as --out", lambda w: os.mkfifo(w / "out.png"), ["sample", "--weights", "run", "--out", "out.png"],
     "--out out.png: not a regular file"),
    ("a pipe as --data", lambda w: os.mkfifo(w / "d.npz"), ["--data", "d.npz", "--run-dir", "new"],
     "not a regular file"),
]


@pytest.mark.parametrize("case, setup, argv, words", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_ends_in_one_line_naming_the_problem(work, capsys, case, setup, argv, words):
    setup(work)
    line = attempt(capsys, argv)
    assert words in line, line


def declare_size(path, member, size):
    """Make the zip's central directory claim `size` unpacked bytes for `member` (a zip bomb's lie)."""
    import struct
    raw = bytearray(path.read_bytes())
    name = member.encode()
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46: at + 46 + name_len] == name:
            struct.pack_into("<I", raw, at + 24, size)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("compress", [False, True], ids=["stored", "deflated"])
def test_a_decompression_bomb_is_refused_as_a_bad_data_file(work, capsys, compress):
    """A member whose zip header declares 4 GB from a few bytes: refused before unpacking, naming --data."""
    arrays = dict(np.load(work / "tiny.npz"))
    (np.savez_compressed if compress else np.savez)(work / "bomb.npz", **arrays)
    declare_size(work / "bomb.npz", "x_train.npy", 2 ** 32 - 2)
    with zipfile.ZipFile(work / "bomb.npz") as zf:
        assert zf.getinfo("x_train.npy").file_size == 2 ** 32 - 2
    line = attempt(capsys, ["--data", "bomb.npz", "--run-dir", "new"])
    assert line.startswith("gan_2014.py: error: --data bomb.npz: member 'x_train.npy' declares 4.0 GB"), line


def test_the_first_suggested_fix_for_a_dash_file_name_works(work, capsys):
    shutil.copy(work / "tiny.npz", work / "-dash.npz")
    attempt(capsys, ["--data", "-dash.npz"])
    succeeds(capsys, ["--data=-dash.npz", "--epochs", "1", "--batch-size", "16", "--run-dir", "new",
                      "--images", "images1"])
    succeeds(capsys, ["--data", "./-dash.npz", "--epochs", "1", "--batch-size", "16", "--run-dir", "new2",
                      "--images", "images2"])


def test_weights_under_any_file_name_load_and_a_foreign_model_is_refused(work, capsys):
    shutil.copy(work / "run/generator.weights.h5", work / "g.h5")
    shutil.copy(work / "run/generator.weights.h5", work / "no-extension")
    for name in ("g.h5", "no-extension"):
        succeeds(capsys, ["sample", "--weights", name, "--n", "4", "--out", f"{name}.npy", "--seed", "0"])
    np.testing.assert_array_equal(np.load(work / "g.h5.npy"), np.load(work / "no-extension.npy"))
    import keras  # a model of someone else whose first layer has our generator's shape
    foreign = keras.Sequential([keras.Input((100,)), keras.layers.Dense(256), keras.layers.Dense(10)])
    foreign.save_weights(str(work / "foreign.weights.h5"))
    line = attempt(capsys, ["sample", "--weights", "foreign.weights.h5"])
    assert "its arrays are not those of the keras-gan generator" in line, line


# -----------------------------------------------------------------------------
# 5: signals at any moment, and output that nobody reads


def wait_for_our_handlers(proc, timeout=60):
    """Until the script's first lines have run: they catch SIGHUP, which Python itself never does.
    (Before that, Python is still starting: its own KeyboardInterrupt is not ours to word.)"""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(f"/proc/{proc.pid}/status") as f:
            caught = int(next(line for line in f if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signal.SIGHUP - 1)):
            return
        time.sleep(0.005)
    raise AssertionError("the script never installed its signal handlers")


@pytest.mark.parametrize("sig, delay", [(signal.SIGINT, 0), (signal.SIGTERM, 0.5), (signal.SIGHUP, 1.5),
                                        (signal.SIGINT, 3)])
def test_a_signal_while_starting_leaves_in_one_line(tmp_path, sig, delay, monkeypatch, capsys):
    """While the modules load, while TensorFlow loads, while the model compiles
    (or, on a fast machine, in the first iterations): one line, 128 + the
    signal, no traceback; the folder then resumes or refuses in one line."""
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    proc = start_script("--data", data, "--epochs", "100000", "--batch-size", "16", cwd=tmp_path,
                        warm=False)  # a real start
    wait_for_our_handlers(proc)
    time.sleep(delay)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gan_2014.py: stopped by "), err
    if os.path.exists(tmp_path / "run/run.json"):  # here: what is left, not the process, is the subject
        monkeypatch.chdir(tmp_path)
        try:
            gan_2014.main(["--resume", "--epochs", "1"])
        except SystemExit as e:
            assert e.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) <= 1 and "Traceback" not in err, err


def test_sigterm_during_evaluate_leaves_in_one_line(work):
    proc = start_script("evaluate", "--weights", "run", "--data", "tiny.npz", "--cache", work / "cache", cwd=work)
    wait_for_our_handlers(proc)
    time.sleep(2)  # past the Parzen estimate (~1 s), training the classifier: wherever it is, a signal leaves at once
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not [n for n in os.listdir(work) if n.startswith(".tmp-")]


def test_sighup_during_training_checkpoints_like_ctrl_c(tmp_path):
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    proc = start_script("--data", data, "--epochs", "100000", "--batch-size", "16", "--log-every", "1", cwd=tmp_path)
    for line in proc.stdout:
        if line.startswith("3 [D loss"):
            break
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 129 and "stopped by SIGHUP after iteration" in err, err
    saved = run_folder.read_checkpoint(str(tmp_path / "run/checkpoint.npz"), meta_only=True)[0]["iteration"]
    assert saved >= 3


@pytest.mark.parametrize("how", ["head -2", "stdout closed"])
def test_output_nobody_reads_neither_stops_nor_poisons_a_run(tmp_path, how):
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    args = ["--data", data, "--epochs", "8", "--batch-size", "16", "--log-every", "1"]
    if how == "head -2":  # as head does: read two lines, then close the pipe
        proc = start_script(*args, cwd=tmp_path)
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=180) == 0 and "Traceback" not in err and all(lines), err
    else:  # `>&-`: no stdout at all, in the shell's words
        cmd = f"{sys.executable} {SCRIPT} {' '.join(args)} >&-"
        result = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                                env=env_without_xla())
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert run_folder.read_checkpoint(str(tmp_path / "run/checkpoint.npz"), meta_only=True)[0]["iteration"] == 8
    assert os.path.getsize(tmp_path / "run/generator.weights.h5") > 0
