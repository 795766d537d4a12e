"""`python kill_at_write.py N ARGS...`: gan_2014.py ARGS, killed by SIGKILL (kill -9,
nothing of the process runs after it) just before its N-th file takes its final
name. Run as a child by test_backends.py, on the backend KERAS_BACKEND names."""
import os
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

if __name__ == "__main__":
    n, argv = int(sys.argv[1]), sys.argv[2:]
    replace, calls = os.replace, []

    def kill_at_n(src, dst):
        calls.append(dst)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return replace(src, dst)

    os.replace = kill_at_n
    import gan_2014
    gan_2014.main(argv)
