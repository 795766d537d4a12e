"""The process around the commands: the errors that end one in one line,
signals, TensorFlow's start-up notices, output nobody reads, and the lazy
import of TensorFlow and Keras."""
import contextlib
import importlib
import os
import re
import sys
import tempfile
import time
import traceback

from gan_2014_utils.startup import stop_message


class UsageError(Exception):
    """Bad input: one line on stderr naming the problem and the fix, exit status 2."""


class CheckpointError(Exception):
    """A checkpoint that is not a whole checkpoint of this model."""


class Stopped(Exception):
    """Training ended early at `iteration`; `saved_at` is the last whole checkpoint."""

    def __init__(self, reason, iteration, saved_at, code):
        super().__init__(reason)
        self.iteration, self.saved_at, self.code = iteration, saved_at, code


class WriteError(Exception):
    """A file could not be written (a full disk, a read-only folder...)."""

    def __init__(self, path, reason, needs=None):
        super().__init__(f"could not write {path} ({reason})"
                         + (f"; it needs about {mb(needs)}" if needs else ""))


class FolderInUse(Exception):
    """Another training holds the folder's lock."""


class FolderGone(Exception):
    """The run's folder was removed or replaced while it trained: another run may own the path now."""


class Interrupted(KeyboardInterrupt):
    """A second signal while the training loop was finishing its iteration."""

    def __init__(self, signum):
        super().__init__()
        self.signum = signum


def mb(nbytes):
    return f"{nbytes / 2 ** 20:,.0f} MB" if nbytes < 2 ** 30 else f"{nbytes / 2 ** 30:,.1f} GB"


def one_line(text):
    """Control characters (a newline in a file name) written as escapes: a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def say(text):
    """One line of ours on stdout, now (a message must not wait behind a progress bar's buffer)."""
    print(one_line(text), flush=True)


PENDING = set()  # temporary files of atomic writes under way: a signal that leaves at once removes them
STDERR = [2]     # where the user's stderr is now (without_startup_notices moves it while TensorFlow loads)


def leave_at_once(signum, frame=None, note=""):
    """A signal outside the training loop (starting, loading, evaluating, sampling):
    nothing is half-done there that a checkpoint could save, so leave now, in one
    line, after removing the temporary file of a write under way. Raising
    KeyboardInterrupt instead can be swallowed ("Exception ignored in ...") or
    escape as a traceback, depending on where it lands."""
    for tmp in list(PENDING):
        with contextlib.suppress(OSError):
            os.remove(tmp)
    with contextlib.suppress(OSError):
        os.write(STDERR[-1], stop_message(signum, note).encode(errors="replace"))
    os._exit(128 + signum)


# -----------------------------------------------------------------------------
# Keras and its backend, imported on first use and without TensorFlow's C++ start-up notices

class LazyModule:
    """A module imported on first use. Keras and its backend take seconds to
    import, so `--help` and bad input are answered before they load."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if "keras" not in sys.modules:
            import_keras_quietly()
        return getattr(importlib.import_module(self._name), attr)


def lazy(name):
    return LazyModule(name)


# TensorFlow's C++ start-up notices: absl's "before InitializeLog" warning, the
# CUDA probe that fails on every CPU machine (cuInit, cuda drivers), oneDNN and
# CPU-feature notes. They are written to file descriptor 2 from C++ before any
# setting applies (TF_CPP_MIN_LOG_LEVEL does not stop the absl ones), so they
# can only be kept off the terminal by catching that descriptor while they come.
STARTUP_NOTICE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:. ]+\d+ (cudart_stub|cuda_\w+|port|cpu_feature_guard|cpu_utils|gpu_device)\.cc:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow")


@contextlib.contextmanager
def without_startup_notices():
    """Catch file descriptor 2 (C++ writes there directly) for the duration;
    then show every caught line that is not a start-up notice, so a real error
    or warning still reaches the user, in order."""
    sys.stderr.flush()
    saved = os.dup(2)
    caught = tempfile.TemporaryFile()
    STDERR.append(saved)
    try:
        os.dup2(caught.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        STDERR.remove(saved)
        os.close(saved)
        caught.seek(0)
        for line in caught.read().decode(errors="replace").splitlines(keepends=True):
            if not STARTUP_NOTICE.match(line):
                sys.stderr.write(line)
        sys.stderr.flush()
        caught.close()


def import_keras_quietly():
    """Import Keras, which imports its backend; TensorFlow only when it is the
    backend (with torch, TensorFlow imported first makes torch's layers crash),
    and then it probes its devices here (where the cuInit notice comes from)."""
    with without_startup_notices():
        try:
            import keras
        except ImportError as e:  # an installed backend that does not import (a broken or partial install)
            from gan_2014_utils.backend import INSTALL, chosen
            raise UsageError(f"KERAS_BACKEND={chosen()}: Keras could not import it ({one_line(e)}); reinstall it "
                             f"({INSTALL.get(chosen(), 'pip install keras')}) or pick another backend") from None
        if keras.backend.backend() == "tensorflow":
            import tensorflow
            tensorflow.config.list_physical_devices()


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's INFO and WARNING logs after start-up


# -----------------------------------------------------------------------------
# Output nobody reads, and the crash that is a bug

class QuietStream:
    """stdout or stderr that nobody may be reading any more (`| head -2`, a closed
    terminal, `>&-`): a failed write silences the stream instead of stopping the
    run, and the stream's file descriptor goes to /dev/null so that Python's own
    flush at exit fails no more."""

    def __init__(self, stream):
        self.stream, self.dead = stream, stream is None

    def _call(self, method, *args):
        if not self.dead:
            try:
                return getattr(self.stream, method)(*args)
            except (OSError, ValueError):  # EPIPE, EBADF, EIO; ValueError: a closed file
                self.dead = True
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    null = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(null, self.stream.fileno())
                    os.close(null)
        return None

    def write(self, text):
        self._call("write", text)
        return len(text)

    def flush(self):
        self._call("flush")

    def isatty(self):
        return bool(self._call("isatty"))

    def __getattr__(self, name):  # encoding, fileno...: the stream's own
        return getattr(self.stream, name)


def crash_log(run_dir):
    """Keep the traceback where a user can find it and send it: the run folder, else the temp folder."""
    text = f"gan_2014.py {' '.join(sys.argv[1:])}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n{traceback.format_exc()}"
    for folder, name in ((run_dir, "crash.log"), (tempfile.gettempdir(), "gan_2014-crash.log")):
        if folder and os.path.isdir(folder):
            path = os.path.join(folder, name)
            try:
                with open(path, "w") as f:
                    f.write(text)
                return path
            except OSError:
                continue
    return None
