"""warm_python.py's children are new Pythons in all a test can observe, but the
modules imported before their first line: started, run and ended as
`python SCRIPT`, `python -c CODE` and `python -m MODULE` are, on every backend it serves."""
import json
import os
import pty
import signal
import subprocess
import sys

import pytest

import warm_python
from helpers import read_until_closed

PROBE = r"""
import json, os, signal, sys
names = ("SIGINT", "SIGPIPE", "SIGHUP", "SIGTERM", "SIGXFSZ", "SIGCHLD", "SIGUSR1")
stream = lambda s: [s.fileno(), s.line_buffering, s.write_through, s.encoding, s.errors, s.mode, getattr(s.buffer, "raw", s.buffer).name]
state = dict(
    name=__name__, file=globals().get("__file__"), argv=sys.argv, path0=sys.path[0], cwd=os.getcwd(),
    env=os.environ.get("PROBE"), umask=os.umask(0o22), ppid=os.getppid(), tty=os.isatty(1),
    signals={n: str(signal.getsignal(getattr(signal, n))) for n in names},
    streams=[stream(sys.stdin), stream(sys.stdout), stream(sys.stderr),
             [sys.stdin is sys.__stdin__, sys.stdout is sys.__stdout__, sys.stderr is sys.__stderr__]],
    stdin=sys.stdin.readline() if not os.isatty(0) else "",
    main=sorted(k for k in vars(sys.modules["__main__"]) if k not in ("json", "os", "signal", "sys", "names",
                                                                        "stream", "state")),
)
print(json.dumps(state))
sys.stderr.write("on stderr\n")
"""


def run_both(args, **kwargs):
    results = []
    for popen in (subprocess.Popen, warm_python.Popen):
        with popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True, **kwargs) as proc:
            out, err = proc.communicate("a line on stdin\n", timeout=120)
        results.append((proc.returncode, out, err))
    return results


def test_a_warm_script_starts_as_a_new_python_would_start_it(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "elsewhere").mkdir()
    env = dict(os.environ, PROBE="from the test")
    new, warm = run_both([str(tmp_path / "probe.py"), "an argument", "--flag"], cwd=tmp_path / "elsewhere", env=env)
    assert new == warm and new[0] == 0 and new[2] == "on stderr\n"
    state = json.loads(new[1])
    assert state["ppid"] == os.getpid() and state["cwd"] == str(tmp_path / "elsewhere")  # not vacuous
    assert state["env"] == "from the test" and state["stdin"] == "a line on stdin\n"


def test_warm_code_starts_as_python_dash_c_would_start_it(tmp_path):
    new, warm = run_both(["-c", PROBE, "an argument"], cwd=tmp_path)
    assert new == warm and json.loads(new[1])["argv"] == ["-c", "an argument"]


def test_a_warm_module_starts_as_python_dash_m_would_start_it(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    new, warm = run_both(["-m", "probe", "an argument"], cwd=tmp_path)
    assert new == warm and new[0] == 0, (new, warm)
    state = json.loads(new[1])
    assert state["argv"] == [str(tmp_path / "probe.py"), "an argument"] and state["path0"] == str(tmp_path)
    (tmp_path / "started.py").write_text("import sys; print('keras' in sys.modules)")
    assert warm_python.run([sys.executable, "-m", "started"], cwd=tmp_path, timeout=120).stdout == "True\n"  # served


def test_a_warm_child_on_a_terminal_has_a_terminals_buffering(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE)
    shown = []
    for popen in (subprocess.Popen, warm_python.Popen):
        leader, follower = pty.openpty()
        proc = popen([sys.executable, str(tmp_path / "probe.py")], cwd=tmp_path, stdin=follower, stdout=follower,
                     stderr=follower)
        os.close(follower)
        try:
            shown.append(read_until_closed(leader).decode())
        finally:
            proc.wait(timeout=120)
            os.close(leader)
    assert shown[0] == shown[1] and json.loads(shown[0].splitlines()[0])["tty"] is True


ENDINGS = {
    "sys.exit(3)": "import sys; print('out'); sys.exit(3)",
    "an uncaught exception": "print('out'); raise ValueError('boom')",
    "an atexit handler": "import atexit; atexit.register(lambda: print('at exit')); print('out')",
    "SIGINT unhandled": "import os, signal; print('out', flush=True); os.kill(os.getpid(), signal.SIGINT)",
    "SIGTERM": "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
    "os._exit": "import os; print('lost in the buffer'); os._exit(4)",
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_warm_child_ends_as_a_new_python_would(tmp_path, ending):
    new, warm = run_both(["-c", ENDINGS[ending]], cwd=tmp_path)
    assert new == (warm[0], warm[1], without_the_servers_frame(warm[2])), (new, warm)


def without_the_servers_frame(err):
    """A warm child's traceback has one frame more, at the top: the server's `exec` of the script."""
    lines = err.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith('  File "') and "warm_python.py" in line:
            return "".join(lines[:i] + lines[i + 2:])
    return err


@pytest.mark.parametrize("size", [1, 100000])
def test_output_to_a_closed_pipe_ends_a_warm_child_as_a_new_one(tmp_path, size):
    """Within the buffer (at exit's flush) and beyond it (at the write); under
    xdist, whose workers pass PYTHONUNBUFFERED on, at the write either way."""
    code = f"import time; time.sleep(0.3); print('x' * {size})"  # after the test closed its end
    ended = []
    for popen in (subprocess.Popen, warm_python.Popen):
        proc = popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
        proc.stdout.close()
        proc.wait(timeout=60)
        ended.append((proc.returncode, without_the_servers_frame(proc.stderr.read().decode())))
        proc.stderr.close()
    assert ended[0] == ended[1] and "BrokenPipeError" in ended[0][1], ended


def test_kill_9_and_signals_end_a_warm_child_as_they_end_a_new_one(tmp_path):
    code = "import time; print('ready', flush=True); time.sleep(60)"
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        ended = []
        for popen in (subprocess.Popen, warm_python.Popen):
            proc = popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=tmp_path)
            assert proc.stdout.readline() == "ready\n"
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)  # at once: the sleep was 60 s
            ended.append((proc.returncode, err.splitlines()[-1:]))
        assert ended[0] == ended[1] and ended[0][0] == -sig, (sig, ended)


def test_tensorflows_children_start_with_keras_and_tensorflow_imported(tmp_path):
    """The one difference from a new Python (where neither is there). On JAX and
    PyTorch, test_backend_runs.py's warm children say which backend ran
    (run.json) and that TensorFlow was never loaded."""
    code = ("import sys; started = set(sys.modules); import keras; "
            "print(keras.backend.backend(), 'keras' in started, 'tensorflow' in started)")
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    done = warm_python.run([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=120)
    assert done.stdout.split() == ["tensorflow", "True", "True"], done.stderr


def test_what_a_server_cannot_give_is_started_as_a_new_python(tmp_path):
    code = "import sys; print('keras' in sys.modules)"
    for kwargs in (dict(preexec_fn=lambda: None), dict(start_new_session=True), dict(umask=0o77)):
        done = warm_python.run([sys.executable, "-c", code], cwd=tmp_path, timeout=120, **kwargs)
        assert done.stdout == "False\n", kwargs


def test_warm_children_draw_their_own_random_numbers_as_new_pythons_do(tmp_path):
    code = "import random, numpy; print(random.random(), numpy.random.random())"
    draws = [warm_python.run([sys.executable, "-c", code], cwd=tmp_path, timeout=120).stdout.split()
             for _ in range(2)]
    assert draws[0][0] != draws[1][0] and draws[0][1] != draws[1][1], draws
