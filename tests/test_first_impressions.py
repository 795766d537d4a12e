"""What a new user sees: the usage line, the words of --help, no alarming
start-up notices on a CPU machine, and a stop message on a line of its own."""
import os
import pty
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT, SCRIPT, make_tiny_mnist, read_until_closed, run_script

def test_usage_line_names_the_sample_and_evaluate_commands(tmp_path):
    help_text = run_script("--help", cwd=tmp_path).stdout
    usage = help_text[:help_text.index("\n\n")]
    assert usage.startswith("usage: gan_2014.py [")
    assert "gan_2014.py sample --weights PATH" in usage and "gan_2014.py evaluate --weights PATH" in usage


def test_help_names_every_command_with_its_own_help(tmp_path):
    from gan_2014_utils.commands import COMMANDS
    help_text = " ".join(run_script("--help", cwd=tmp_path).stdout.split())  # argparse wraps lines
    epilog = help_text[help_text.index("other commands:"):]
    commands = ["sample", "evaluate", "toy"]
    assert set(commands) | {"train"} == set(COMMANDS)  # a new command is named here too
    for command in commands:
        assert f"python gan_2014.py {command} --help" in epilog, command


def option_blocks(help_text):
    """{option: its help text} from argparse's --help layout."""
    blocks, current = {}, None
    for line in help_text.split("options:", 1)[1].splitlines():
        m = re.match(r"  (-[-\w]+)", line)
        if m:
            current = m.group(1)
        if current is not None and line.startswith(" "):
            blocks[current] = blocks.get(current, "") + line
    return blocks


@pytest.mark.parametrize("command", [[], ["sample"], ["evaluate"]])
def test_help_says_seed_only_for_the_random_seed(tmp_path, command):
    help_text = run_script(*command, "--help", cwd=tmp_path).stdout
    blocks = option_blocks(help_text)
    assert "--seed" in blocks
    elsewhere = [option for option, text in blocks.items() if option != "--seed" and "seed" in text.lower()]
    description = help_text.split("options:", 1)[0].split("\n\n", 1)[1]
    assert not elsewhere and "seed" not in description.lower(), (elsewhere, description)
    if not command:  # the epilog
        assert "seed" not in help_text[help_text.index("other commands:"):].lower()


def test_the_default_model_has_a_name_that_says_what_it_is(tmp_path):
    help_text = run_script("--help", cwd=tmp_path).stdout
    assert "--arch {keras-gan,paper}" in help_text and "(default keras-gan)" in help_text


def test_other_lines_on_stderr_during_startup_still_reach_the_user(tmp_path):
    """Only the known notices are held back: a real error printed while TensorFlow starts still shows."""
    code = (
        "import os, sys; sys.path.insert(0, %r); from gan_2014_utils import process\n"
        "with process.without_startup_notices():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "    os.write(2, b'E0000 00:00:1795861096.293199    2368 cuda_platform.cc:52] failed call to cuInit: "
        "INTERNAL: CUDA error\\n')\n"
        "    os.write(2, b'I0000 00:00:1795861086.946937    2368 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
        "    os.write(2, b'real trouble: libfoo.so not found\\n')\n"
        "    print('a Python warning', file=sys.stderr)\n"
        "assert 'tensorflow' not in sys.modules\n" % ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "real trouble: libfoo.so not found\na Python warning\n"


def test_a_terminal_shows_no_startup_notices_and_the_stop_message_on_its_own_line(tmp_path):
    """A training on a real terminal, as a user starts it: none of TensorFlow's C++
    start-up notices (cuInit, oneDNN, absl) on a CPU machine; the progress bar
    redraws one line, and Ctrl-C's message must not be glued to it."""
    data = make_tiny_mnist(tmp_path / "tiny.npz")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, SCRIPT, "--data", data, "--epochs", "100000", "--batch-size", "16",
                             "--seed", "1", "--sample-interval", "100000"],
                            cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 240
    try:
        while b"/100000" not in out:  # the bar is drawn: training is under way
            assert time.monotonic() < deadline and proc.poll() is None, out.decode(errors="replace")
            out += os.read(leader, 4096)
        proc.send_signal(signal.SIGINT)
        out += read_until_closed(leader)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        os.close(leader)
    assert proc.returncode == 130
    text = out.decode(errors="replace")
    for word in ("cuInit", "cuda", "oneDNN", "absl", "E0000", "I0000"):  # TensorFlow's start-up notices
        assert word not in text, text[:2000]
    lines = text.replace("\r\n", "\n").split("\n")
    message = [line for line in lines if "stopped by SIGINT" in line]
    assert len(message) == 1, lines[-5:]
    shown = re.split(r"[\r\x08]", message[0])[-1]  # what stays on screen after the bar's redraws
    assert shown.startswith("gan_2014.py: stopped by SIGINT after iteration"), repr(message[0])


def test_the_readmes_commands_write_only_where_git_ignores(tmp_path):
    """A user who follows the README keeps a clean `git status`: every file its
    commands write (--out, the run and grid folders, the cache of a venv) is ignored."""
    import shutil
    if shutil.which("git") is None or not os.path.isdir(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout")
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    commands = re.findall(r"python (?:gan_2014\.py|benchmarks/\w+\.py)[^`\n]*", readme)
    outs = [m for c in commands for m in re.findall(r"--out (\S+)", c)]
    assert len(outs) >= 6, outs  # the sample, figure and section 3 commands
    written = outs + ["images/0.png", "images/progress.gif", "run/history.csv", "run/best/best.json",
                      ".venv/bin/python", "samples.png", "figure1.png", "figure1.npz",
                      "samples/figure1-toy.npz"]  # toy's arrays go beside its figure
    check = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True,
                           text=True)
    assert sorted(check.stdout.split()) == sorted(written), set(written) - set(check.stdout.split())


def test_the_map_from_the_articles_script_points_at_the_lines_that_hold_what_it_names():
    """docs/keras3.md maps each block of gan.py to a line here: the code it quotes is on that line."""
    with open(os.path.join(ROOT, "docs", "keras3.md")) as f:
        rows = re.findall(r"^\| (.+?) \| `(.+?)`.*?\| \[(\d+)\]\(\.\./((?:gan_2014_utils/)?\w+\.py)#L(\d+)\) \|$",
                          f.read(), re.M)
    assert len(rows) >= 20  # every block of gan.py: imports, __init__, the two builders, train, sample_images
    assert sum(path == "gan_2014.py" for *_, path, _ in rows) >= 20  # the script holds the method
    for block, code, shown, path, anchor in rows:
        with open(os.path.join(ROOT, path)) as f:
            lines = f.read().split("\n")
        assert shown == anchor and code in lines[int(anchor) - 1], (block, code, path, anchor)
    names = " ".join(row[0] for row in rows)
    for part in ("build_generator", "build_discrinator", "def train", "sample_images", "train_on_batch(imgs",
                 "combined.train_on_batch", "savefig", "gan.train(epochs=30000"):
        assert part in names, part
