"""Files written so that a crash, a kill or a full disk never leaves half a file
under the final name; locks, so that two runs never share a folder; what kind
of thing a path is; .npz archives read with every header checked first."""
import errno
import fcntl
import hashlib
import math
import os
import stat
import tempfile
import zipfile

import numpy as np

from gan_2014_utils.process import PENDING, FolderInUse, UsageError, WriteError, mb

TMP_PREFIX = ".tmp-"  # atomic_write's temporary files; a later start removes those a kill left
WRITE_GUARDS = []     # called just before each file takes its final name: they raise if it must not
TF_BASE = 2 ** 30     # what TensorFlow, Keras and the compiled programs take before any of our arrays


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


def atomic_write(path, write, needs=None):
    """Call `write(tmp_path)`, then move the result over `path` in one step.
    A failure leaves `path` as it was and raises WriteError."""
    folder, name = os.path.split(os.path.abspath(path))
    ext = ".weights.h5" if name.endswith(".weights.h5") else os.path.splitext(name)[1]  # Keras checks it
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{name}-", suffix=ext, dir=folder)
        os.close(fd)
        PENDING.add(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's files are private; ours are ordinary files
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        for guard in WRITE_GUARDS:
            guard()
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            # A write that failed because its folder was removed or replaced says
            # so (the guards raise), not "free some space".
            for guard in WRITE_GUARDS:
                guard()
            raise WriteError(path, e.strerror or str(e).splitlines()[0], needs) from None
        raise
    finally:
        PENDING.discard(tmp)


def remove_temporaries(folder):
    """Remove what a killed run's atomic writes left: .tmp-* files, ours alone."""
    for name in os.listdir(folder):
        if name.startswith(TMP_PREFIX) and os.path.isfile(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -----------------------------------------------------------------------------
# What a path is

def stat_kind(path):
    """(kind, the system's reason): 'missing', 'dangling' (a link to nothing),
    'unreadable', 'folder', 'file' (regular, through links) or 'other' (a pipe,
    a device, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return ("dangling" if os.path.islink(path) else "missing"), None
    except OSError as e:
        return "unreadable", e.strerror or str(e)
    return ("folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"), None


def kind_of(path):
    """'missing', 'folder', 'file' or 'other' (anything else, a dangling link included: it is not nothing)."""
    kind = stat_kind(path)[0]
    return "other" if kind in ("dangling", "unreadable") else kind


def file_problem(path):
    """Why `path` cannot be an .npz file to read (missing, a folder, a pipe...), or None."""
    kind, reason = stat_kind(path)
    return {"missing": "no such file", "dangling": "no such file", "unreadable": f"cannot be read ({reason})",
            "folder": "is a folder; give the .npz file itself",
            "other": "is not a regular file (a pipe or a device); give an .npz file"}.get(kind)


def check_writable_dir(path, option, fix=None, make=False):
    """Refuse a folder that cannot be made or written, before anything is created;
    with `make`, create it and prove that a file can be written there."""
    fix = fix or f"choose another {option}"
    if make:
        try:
            os.makedirs(path, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=TMP_PREFIX + "write-test-", dir=path)
            os.close(fd)
            os.remove(probe)
        except OSError as e:
            raise UsageError(f"{option} {path}: cannot write there ({e.strerror or e}); {fix}") from None
        return
    probe = os.path.abspath(path)
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        why = "is not a folder" if not os.path.isdir(probe) else "is not writable"
        raise UsageError(f"{option} {path}: cannot write there ({probe} {why}); {fix}")


# -----------------------------------------------------------------------------
# Locks

def lock_folder(folder, fix="move it away and try again"):
    """Hold `folder` for this process: an exclusive lock on folder/.lock, which the
    kernel releases when the process ends, however it ends, so a lock left by a
    dead process never blocks anyone. The lock file is opened without following
    a link, and refused if it has another name (a hard link): its pid is never
    written into another file. Returns what unlock_folder needs."""
    path = os.path.join(folder, ".lock")
    not_a_file = f"{path}: not a file of its own (a link, a folder or a device), where the run keeps its lock file; {fix}"
    while True:
        if os.path.islink(path) or kind_of(path) not in ("missing", "file"):
            raise UsageError(not_a_file)
        made = not os.path.lexists(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:  # a link put there since the check
                raise UsageError(not_a_file) from None
            raise UsageError(f"{folder}: cannot write there ({e.strerror or e}); choose another folder") from None
        if os.fstat(fd).st_nlink != 1:  # a hard link: the same file under another name
            os.close(fd)
            raise UsageError(not_a_file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FolderInUse(f"{folder}/ is in use by another training (process {holder})") from None
        try:  # the holder before us may have removed the file after we opened it: try again
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    except OSError as e:  # a full disk: nothing new is left in the folder
        if made:
            os.remove(path)
        os.close(fd)
        raise WriteError(path, e.strerror or str(e)) from None
    return path, fd


def still_locked(lock):
    """Whether folder/.lock is still the file this process locked: not when the
    folder was removed, moved or replaced (another run may hold the path now)."""
    path, fd = lock
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)


def unlock_folder(lock):
    path, fd = lock
    try:
        if still_locked(lock):  # never another run's lock, in a folder that replaced ours
            os.remove(path)
    finally:
        os.close(fd)


# -----------------------------------------------------------------------------
# Memory, and .npz archives read with every header checked first

def available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def require_memory(what, nbytes, fix):
    """Refuse, before trying, a size that cannot fit in this machine's free memory."""
    free = available_memory()
    if nbytes > free:
        raise UsageError(f"{what} needs about {mb(nbytes)} of memory and {mb(free)} is free; {fix}")


class BadFile(Exception):
    """A file that is not what it should be; str() says why."""


def check_sizes_declared(zf, only):
    """A member may declare far more than the archive holds (a "zip bomb"): refuse
    what could not fit in memory before unpacking any of it."""
    wanted = [i for i in zf.infolist() if only is None or i.filename[:-4] in only]
    for i in wanted:  # deflate unpacks at most ~1,030 bytes per byte; a stored member, 1
        if i.file_size > (i.compress_size if i.compress_type == zipfile.ZIP_STORED
                          else 1100 * i.compress_size + 1024):
            raise BadFile(f"member {i.filename!r} declares {mb(i.file_size)} unpacked from "
                          f"{i.compress_size:,} bytes, more than zip can give; the archive is damaged")
    declared, free = sum(i.file_size for i in wanted), available_memory()
    if declared > free:
        raise BadFile(f"its arrays declare {mb(declared)} unpacked, more than the {mb(free)} of free "
                      "memory; it is not a file of this program")


def check_member(zf, info):
    """An .npy member's header against the member's real size, without reading its data."""
    if not info.filename.endswith(".npy"):
        raise BadFile(f"member {info.filename!r} is not an array")
    try:
        with zf.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(member)
            header_end = member.tell()
    except (ValueError, EOFError, SyntaxError, TypeError):
        raise BadFile(f"member {info.filename!r} is not an array") from None
    if dtype.hasobject:
        raise BadFile(f"member {info.filename!r} holds Python objects, not numbers")
    if header_end + math.prod(shape) * dtype.itemsize != info.file_size:
        raise BadFile(f"member {info.filename!r} claims shape {shape} but holds "
                      f"{info.file_size - header_end:,} bytes of data")


def read_npz(path, only=None):
    """The arrays of an .npz file (or only those named), each member's header
    checked against the member's real size before anything is read, so a file
    that claims a billion digits, holds pickles or is not an archive fails
    here, saying why."""
    problem = file_problem(path)
    if problem:
        raise BadFile(problem)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist()]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:  # which of the two a reader takes is up to the reader: refuse both
                raise BadFile(f"member {twice[0]!r} is there twice; the archive is damaged or was edited")
            check_sizes_declared(zf, only)
            for info in zf.infolist():
                check_member(zf, info)
                if only is None or info.filename[:-4] in only:
                    with zf.open(info) as member:
                        arrays[info.filename[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
    except BadFile:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            RuntimeError, KeyError):
        raise BadFile("not a readable .npz archive") from None
    return arrays


def h5_layout(path):
    """{dataset path: shape} of every array in an HDF5 file, read without TensorFlow."""
    import h5py  # comes with Keras
    layout = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: layout.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset)
                     else None)
    return layout
