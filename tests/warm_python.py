"""A `python` whose Keras is already imported: children of the tests that start
in a fraction of a second instead of ~4 s, and are still processes of their own.

Where a test's subject is a process (signals, kill -9, exit codes, a lock held
by another process, the other backends), it runs `python SCRIPT ARGS`,
`python -c CODE` or `python -m MODULE` (TensorBoard's server) as a child. Most
of such a child's time was importing Keras and its backend before the first
line of the script ran. `Popen` here is
subprocess.Popen with the same arguments; instead of exec'ing a new Python it
asks a prepared one (this file, run as a server, one per backend and test
process) to fork. The fork is then set up as `python` would set up a new
process: its own stdin, stdout and stderr (the descriptors the test made, with
Python's buffering for them), working folder, environment, umask, `sys.argv`,
`sys.path[0]` and a new `__main__`; the script runs as `__main__` at the top
level of that interpreter (a module through runpy, as `-m` runs it), so its
exit status, uncaught exceptions, atexit handlers and the flush of stdout at
exit are the interpreter's own, as for `python SCRIPT`. It is reparented to
the test process (a child subreaper), so
`wait`, `poll`, `send_signal`, `communicate` and the return code (-9 for a kill
-9) are Popen's own.

What differs from a new `python` is only what was imported before the script
ran: Keras, its backend, NumPy, Matplotlib, Pillow, with the environment the
server started with (and kept out of the garbage collector's passes, gc.freeze,
as they would live until exit in a new Python too). So a request is served only when the environment variables
read at import (KERAS_*, TF_*, JAX_*, XLA_*, OMP_*, ...) are the server's;
anything else (another environment, preexec_fn, a new session, another
program) is started the usual way. A test whose subject is the start itself (a
signal while the modules load, start-up notices on a terminal, what is imported
before the script refuses bad input) uses subprocess.Popen, never this.
Forking after these imports is safe: they start no thread but OpenBLAS's pool,
which OMP_NUM_THREADS=1 (conftest.py) leaves unmade and which is fork-aware anyway."""
import atexit
import ctypes
import gc
import inspect
import json
import os
import socket
import subprocess
import sys
import time

IMPORT_TIME = ("KERAS_", "TF_", "XLA_", "OMP_", "OPENBLAS_", "MKL_", "MPL", "PYTHON", "CUDA", "LD_", "TORCH",
               "HOME", "LANG", "LC_")
MAX_SERVERS = 4  # tensorflow, jax, torch and one more: each holds its imported modules in memory


def import_key(env):
    """The environment that importing the backend reads (JAX's own settings only when it is the backend)."""
    backend = env.get("KERAS_BACKEND", "tensorflow")
    read = IMPORT_TIME + (("JAX_",) if backend == "jax" else ())
    return (backend,) + tuple(sorted((k, v) for k, v in env.items() if k.startswith(read) and k != "KERAS_BACKEND"))


# -----------------------------------------------------------------------------
# The test's side: a Popen whose child is forked by a server


_servers = {}  # import_key -> (process, socket)


def _server(env):
    key = import_key(env)
    if key not in _servers:
        if len(_servers) >= MAX_SERVERS:
            return None
        if not _servers:  # orphans of this process's descendants become its children, to wait for
            if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
                return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(theirs.fileno())], env=env,
                                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        theirs.close()
        _servers[key] = (proc, ours)
    return _servers[key][1]


@atexit.register
def _stop_servers():
    for proc, sock in _servers.values():
        sock.close()  # the server leaves when its socket closes
        proc.wait()


class Popen(subprocess.Popen):
    """subprocess.Popen; `[sys.executable, SCRIPT | -c CODE | -m MODULE, ARGS...]` is forked from a warm server."""

    def _execute_child(self, *args, **kwargs):
        a = inspect.signature(subprocess.Popen._execute_child).bind(self, *args, **kwargs).arguments
        argv, env = list(a["args"]), dict(os.environ if a["env"] is None else a["env"])
        servable = (not a["shell"] and a["executable"] is None and len(argv) >= 2 and argv[0] == sys.executable
                    and (argv[1] in ("-c", "-m") and len(argv) >= 3 or not argv[1].startswith("-"))
                    and a["preexec_fn"] is None and not a["pass_fds"] and not a["start_new_session"] and a["process_group"] in (None, -1)
                    and a["uid"] is None and a["gid"] is None and a["gids"] is None and a["umask"] < 0)
        sock = _server(env) if servable else None
        if sock is None:
            return super()._execute_child(*args, **kwargs)
        umask = os.umask(0)
        os.umask(umask)
        fds = [a["p2cread"] if a["p2cread"] != -1 else 0, a["c2pwrite"] if a["c2pwrite"] != -1 else 1,
               a["errwrite"] if a["errwrite"] != -1 else 2]
        request = dict(argv=[str(x) for x in argv[1:]], cwd=os.path.abspath(a["cwd"] or os.getcwd()), env=env,
                       umask=umask)
        socket.send_fds(sock, [json.dumps(request).encode()], fds)
        self.pid = int(sock.recv(64))
        self._child_created = True
        self._close_pipe_fds(a["p2cread"], a["p2cwrite"], a["c2pread"], a["c2pwrite"], a["errread"], a["errwrite"])


def run(args, *, timeout=None, check=False, **kwargs):
    """subprocess.run(args, capture_output=True, text=True, ...) on a warm Popen."""
    with Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    done = subprocess.CompletedProcess(args, proc.returncode, out, err)
    if check:
        done.check_returncode()
    return done


# -----------------------------------------------------------------------------
# The server's side


def serve(sock):
    """Fork a child per request; in the child, return (request, fds). The child's
    own child runs the script: the middle one exits at once, so the script's
    process is reparented to the test process (the subreaper), which waits for it."""
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 22, 3)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)  # the test process is gone
        r, w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(r)
            middle_pid = os.getpid()
            pid = os.fork()
            if pid == 0:
                os.close(w)
                sock.close()
                while os.getppid() == middle_pid:  # until reparented: a script sees the test as its parent
                    time.sleep(0.001)
                return json.loads(msg), fds
            os.write(w, str(pid).encode())
            os._exit(0)
        os.close(w)
        for fd in fds:
            os.close(fd)
        pid = os.read(r, 64)
        os.close(r)
        os.waitpid(middle, 0)  # after this the script's process is the test process's child
        sock.send(pid)


def standard_stream(io, old, fd):
    """sys.stdin, stdout or stderr for descriptor `fd` as Python makes them at
    start-up (create_stdio in CPython's pylifecycle.c): the server's encoding
    and errors (the same environment), buffering for what `fd` now is."""
    write, buffered_stdio = fd > 0, not old.write_through  # not with -u or PYTHONUNBUFFERED
    buffering = -1 if buffered_stdio or not write else 0
    buf = io.open(fd, "wb" if write else "rb", buffering, closefd=False)
    raw = buf.raw if buffering else buf
    raw.name = ("<stdin>", "<stdout>", "<stderr>")[fd]
    stream = io.TextIOWrapper(buf, old.encoding, old.errors, "\n",
                              buffered_stdio and (raw.isatty() or fd == 2), not buffered_stdio)
    stream.mode = "w" if write else "r"
    return stream


def become(request, fds):
    """This process as a new `python ARGV` would be at its first line."""
    import builtins
    import importlib.machinery
    import io
    import types
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    import numpy as np
    np.random.seed()  # a new process's NumPy draws its own global stream (Python's `random` reseeds itself)
    sys.stdin = sys.__stdin__ = standard_stream(io, sys.stdin, 0)
    sys.stdout = sys.__stdout__ = standard_stream(io, sys.stdout, 1)
    sys.stderr = sys.__stderr__ = standard_stream(io, sys.stderr, 2)
    argv = request["argv"]
    main = types.ModuleType("__main__")  # with the names Python gives __main__
    main.__builtins__, main.__annotations__ = builtins, {}
    sys.modules["__main__"] = main
    if argv[0] == "-c":
        main.__loader__ = importlib.machinery.BuiltinImporter
        sys.argv, sys.path[0] = ["-c", *argv[2:]], ""
        return compile(argv[1], "<string>", "exec"), main.__dict__
    if argv[0] == "-m":  # what Python's -m calls: runpy runs the module in __main__, argv[0] set to its file
        sys.argv, sys.path[0] = ["-m", *argv[2:]], os.getcwd()
        return compile(f"import runpy; runpy._run_module_as_main({argv[1]!r})", "<string>", "exec"), {}
    script = argv[0]
    sys.argv, sys.path[0] = argv, os.path.dirname(os.path.abspath(script))
    main.__file__, main.__cached__ = script, None
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    with open(script, "rb") as f:
        return compile(f.read(), script, "exec"), main.__dict__


if __name__ == "__main__":
    listening = socket.socket(fileno=int(sys.argv[1]))
    import importlib
    for name in ("keras", "matplotlib.pyplot", "PIL.Image"):  # Keras imports its backend, KERAS_BACKEND's
        importlib.import_module(name)
    if sys.modules["keras"].backend.backend() == "tensorflow":  # the device probe of the script's quiet import
        sys.modules["tensorflow"].config.list_physical_devices()  # (it starts no thread)
    # What the imports made lives as long as the process: frozen, so neither a collection in a child nor the
    # child's exit traverses it (each pass writes to every object, copying the server's pages into the child:
    # 0.8 s of a child's exit). Python's documented idiom for a server that forks without exec (gc.freeze).
    gc.collect()
    gc.freeze()
    _code, _namespace = become(*serve(listening))
    del listening
    exec(_code, _namespace)
