"""The script's first lines, before its slow imports: a closed standard stream
(`>&-`) gets /dev/null (else the next file opened would take its number, and
prints would land in it), and a signal leaves at once in one line (main() then
takes over). Only the C module of signal: `import signal` takes a tenth of a second."""
import _signal
import os

NAMES = {_signal.SIGHUP: "SIGHUP", _signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM"}


def stop_message(signum, note=""):
    """The one line a signal leaves, here and in process.leave_at_once."""
    name = NAMES.get(signum, f"signal {signum}")
    return f"gan_2014.py: stopped by {name}; files already written are whole{note}\n"


def protect():
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)
    for s in NAMES:
        _signal.signal(s, lambda n, frame: (os.write(2, stop_message(n).encode()), os._exit(128 + n)))
