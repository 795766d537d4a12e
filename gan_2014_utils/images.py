"""Your own images for --data: a folder of image files, an .npy or .npz array,
or a Keras data set's name. Each becomes uint8 images, (n, rows, cols) in grey
or (n, rows, cols, 3) in colour, checked by one set of rules whatever the
source (gan.py's img_rows, img_cols and channels come from them).

A folder is read once per file list: the images go to a cache in Keras's
cache folder (~/.keras/gan_2014/folders/), keyed by every file's path, size and
modification time, so that --resume, sample and evaluate do not decode it
again, and a changed folder is read anew."""
import hashlib
import os
import sys

import numpy as np

from gan_2014_utils.files import atomic_write, kind_of, require_memory
from gan_2014_utils.process import UsageError, lazy, say

keras = lazy("keras")

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
GREY_MODES, COLOUR_MODES = {"1", "L", "LA", "La"}, {"P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB",
                                                     "HSV"}
# Rules for a folder, said in one line when they apply: every image takes the
# first image's size (in sorted order; others resized with Lanczos, as Keras's
# image_dataset_from_directory resizes to one size), and the folder is colour
# when any image is (grey ones are repeated over the three channels). Alpha is
# dropped; 16-bit and floating-point images are refused (the networks see 8 bits).


def check_images(x, where, fix="give uint8 pixels 0-255, e.g. (x * 255).round().astype('uint8')"):
    """uint8 (n, rows, cols) or (n, rows, cols, 1 or 3) with n > 0; returns grey as (n, rows, cols)."""
    if not isinstance(x, np.ndarray) or x.dtype == object:
        raise UsageError(f"--data {where}: not an array of images; {fix}")
    if x.dtype != np.uint8:
        kind = "16-bit" if x.dtype in (np.uint16, np.int16) else str(x.dtype)
        raise UsageError(f"--data {where}: {kind} pixels {x.shape}; {fix}")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)) or min(x.shape[1:3] or (0,)) < 1:
        raise UsageError(f"--data {where}: an array of shape {x.shape}; images are (n, rows, cols) in grey or "
                         "(n, rows, cols, 1 or 3)")
    if len(x) == 0:
        raise UsageError(f"--data {where}: holds no images (shape {x.shape})")
    return x[..., 0] if x.ndim == 4 and x.shape[3] == 1 else x


def is_keras_dataset(source):
    """A Keras data set's name, with no file or folder of that name here (which would come first)."""
    return source in KERAS_DATASETS and kind_of(source) == "missing"


def image_shape(x):
    """(rows, cols, channels) of images as the data holds them: gan.py's img_shape."""
    return (*x.shape[1:3], x.shape[3] if x.ndim == 4 else 1)


def download_failure(e):
    """What went wrong in a keras.datasets download, in a few words (get_file wraps every
    network failure in a bare Exception)."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def describe(x):
    """Images' size as an image viewer gives it (width x height), and grey or colour."""
    return f"{x.shape[2]}x{x.shape[1]} {'colour' if x.ndim == 4 else 'grey'}"


def read_npy(path):
    """An .npy of images, its header checked against memory and the file's size before reading."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
            need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            require_memory(f"--data {path}: its {shape} array", need, "pass fewer or smaller images")
            if need > os.path.getsize(path):
                raise UsageError(f"--data {path}: its header declares {shape} {dtype} but the file is "
                                 "shorter; the file is cut short or damaged")
            f.seek(0)
            x = np.lib.format.read_array(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise UsageError(f"--data {path}: not a readable .npy array ({str(e).splitlines()[0][:80]})") from None
    return check_images(x, path)


def one_array(path, arrays):
    """The images of an .npz that is not in Keras's layout: its one array, any name."""
    if len(arrays) != 1:
        raise UsageError(f"--data {path}: holds {', '.join(sorted(arrays)) or 'no arrays'}; give an .npz with "
                         "x_train (Keras's layout), or with one array of images")
    return check_images(next(iter(arrays.values())), path)


def load_keras_dataset(name):
    """A Keras data set's training and test images, through keras.datasets into Keras's cache."""
    try:
        (x, y), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as e:  # get_file wraps every network failure in a bare Exception
        raise UsageError(f"--data {name}: could not download Keras's {name} ({download_failure(e)}); pass --data with a "
                         f"local copy: an .npz with x_train (and x_test), an .npy of images, or a folder of "
                         "images") from None
    return (check_images(x, name), np.asarray(y).reshape(-1)), (check_images(x_test, name), np.asarray(y_test).reshape(-1))


# -----------------------------------------------------------------------------
# A folder of images

def image_files(folder):
    """Every image file under `folder` (subfolders and links to them included),
    by extension, in sorted order of their paths; a symbolic-link loop refused."""
    found, on_path = [], set()

    def walk(path, rel):
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        if key in on_path:
            raise UsageError(f"--data {folder}: a symbolic-link loop at {path} (a link to a folder that holds it); "
                             "remove the link, or pass a folder without it")
        on_path.add(key)
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            raise UsageError(f"--data {folder}: cannot list {path} ({e.strerror}); fix its permissions") from None
        for name in names:
            full, sub = os.path.join(path, name), os.path.join(rel, name)
            kind = kind_of(full)
            if kind == "folder":
                walk(full, sub)
            elif kind == "file" and name.lower().endswith(EXTENSIONS):
                found.append(sub)
        on_path.discard(key)

    walk(folder, "")
    return found


def cache_path(folder, names):
    """The cache file for this folder's file list, as it is now (paths, sizes, modification times)."""
    digest = hashlib.sha256(os.path.abspath(folder).encode())
    for name in names:
        st = os.stat(os.path.join(folder, name))
        digest.update(f"\0{name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "gan_2014", "folders", digest.hexdigest()[:32] + ".npy")


def read_headers(folder, names):
    """Each image's (size, mode), from its header only; a file Pillow cannot read is named."""
    from PIL import Image
    headers = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with Image.open(path) as img:
                headers.append((img.size, img.mode))
        except Image.DecompressionBombError as e:
            raise UsageError(f"--data {folder}: {path} is too large an image to read ({e}); "
                             "make it smaller, or move it out of the folder") from None
        except (OSError, ValueError, SyntaxError) as e:
            raise UsageError(f"--data {folder}: {path} is not a readable image ({str(e)[:100]}); "
                             "remove or replace it") from None
        mode = headers[-1][1]
        if mode not in GREY_MODES | COLOUR_MODES:
            raise UsageError(f"--data {folder}: {path} is a {mode} image (16-bit or floating-point pixels); "
                             "save it as 8-bit (e.g. PIL's img.convert('L') or 'RGB'), or move it out")
    return headers


def save_npy(path, x):
    with open(path, "wb") as f:
        np.save(f, x)


def read_folder(folder):
    """The images of a folder as one uint8 array (from the cache when the folder is unchanged)."""
    from PIL import Image
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UsageError(f"--data {folder}: cannot be read (permission denied); fix its permissions")
    names = image_files(folder)
    if not names:
        holds = "is empty" if not os.listdir(folder) else \
            f"holds no image (no file named {', '.join(EXTENSIONS[:4])}, ...)"
        raise UsageError(f"--data {folder}: {holds}; pass a folder of images, an .npy/.npz array or a "
                         f"Keras data set ({', '.join(KERAS_DATASETS)})")
    cache = cache_path(folder, names)
    if os.path.isfile(cache):
        try:
            return check_images(np.load(cache, allow_pickle=False), folder)
        except (OSError, ValueError, UsageError):
            pass  # a damaged cache: read the folder again
    headers = read_headers(folder, names)
    (cols, rows), _ = headers[0]
    colour = any(mode in COLOUR_MODES for _, mode in headers)
    shape = (len(names), rows, cols) + ((3,) if colour else ())
    require_memory(f"--data {folder}: its {len(names):,} images of {cols}x{rows}",  # and the largest one decoded
                   int(np.prod(shape, dtype=np.int64)) + 4 * max(w * h for (w, h), _ in headers) * 2,
                   "pass fewer or smaller images")
    x = np.empty(shape, np.uint8)
    bar = keras.utils.Progbar(len(names), unit_name="image") if sys.stdout.isatty() else None
    for i, name in enumerate(names):
        path = os.path.join(folder, name)
        try:
            with Image.open(path) as img:
                img = img.convert("RGB" if colour else "L")
                if img.size != (cols, rows):
                    img = img.resize((cols, rows), Image.LANCZOS)
                x[i] = np.asarray(img)
        except (OSError, ValueError, SyntaxError) as e:  # the header read, the pixels did not
            raise UsageError(f"--data {folder}: {path} is damaged ({str(e)[:100]}); remove or replace it") from None
        if bar is not None and (i % 500 == 0 or i == len(names) - 1):
            bar.update(i + 1)
    resized = sum(size != (cols, rows) for size, _ in headers)
    grey = sum(mode in GREY_MODES for _, mode in headers) if colour else 0
    say(f"gan_2014: read {len(names):,} images from {os.path.normpath(folder)}/: {cols}x{rows} "  # my_images/ once
        f"{'colour' if colour else 'grey'}"
        + (f"; {resized:,} of another size resized to {cols}x{rows} (the first image's)" if resized else "")
        + (f"; {grey:,} grey ones made colour (the folder holds colour images)" if grey else ""))
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        atomic_write(cache, lambda tmp: save_npy(tmp, x))
    except Exception:  # noqa: BLE001 (the cache only saves time: a read-only home still trains)
        pass
    return x
