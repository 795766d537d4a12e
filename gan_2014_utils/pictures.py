"""What a person looks at: the 5x5 grids, mosaics of digits, progress.gif, and
Matplotlib for files only."""
import math
import os

import numpy as np

from gan_2014_utils.files import atomic_write

OWNER = ".gan_2014-run"  # in a grid folder: the id of the run whose grids it holds
GIF = "progress.gif"
GRID_SCALE = 3  # grid PNGs: each digit pixel as 3x3 screen pixels
GIF_SCALE = 2   # progress.gif: 2x2, to keep 150 frames to a few MB


def pyplot():
    """Matplotlib drawing into files only, never a window: runs the same on a headless server."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def mosaic(images, cols, rows=None, marked=(), rgb=False):
    """[0, 1] images, (n, rows, cols) grey or (n, rows, cols, 1 or 3), in rows of
    `cols`, 2 px apart on white, each pixel GRID_SCALE x GRID_SCALE on the screen,
    black where a diverged generator gave NaN; the cells in `marked` framed in
    yellow, as the paper's Figure 2 frames training digits. A PIL image, grey,
    or in colour (rgb, or colour images)."""
    from PIL import Image
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    colour = images.ndim == 4
    rgb = rgb or colour
    n, h, w = images.shape[:3]
    rows, pad = rows or int(math.ceil(n / cols)), 2
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad) + ((3,) if rgb else ()), np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        if i in marked:
            canvas[y - 1:y + h + 1, x - 1:x + w + 1] = (1.0, 0.85, 0.0)
        cell = np.nan_to_num(images[i], nan=0.0)
        canvas[y:y + h, x:x + w] = cell[..., None] if rgb and not colour else cell
    img = Image.fromarray(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), "RGB" if rgb else "L")
    return img.resize((img.width * GRID_SCALE, img.height * GRID_SCALE), Image.NEAREST)


def save_grid(images, path):
    """A square mosaic of [0, 1] images as a PNG (the run's grids, `sample`'s picture)."""
    side = int(math.ceil(math.sqrt(images.shape[0])))
    img = mosaic(images, side, rows=side)
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def is_grid_name(name):
    stem = name[:-4]
    return name.endswith(".png") and stem.isdigit() and stem == str(int(stem))  # "007.png" is not ours


def grid_files(folder):
    """The names in `folder` that a run writes there: <iteration>.png and progress.gif."""
    return [n for n in os.listdir(folder) if n == GIF or is_grid_name(n)]


def grid_owner(folder):
    try:
        with open(os.path.join(folder, OWNER)) as f:
            return f.read(100).strip()
    except (OSError, UnicodeDecodeError):
        return None


def make_gif(folder, names, path):
    """progress.gif: the grids `names` in folder, in order of iteration, the last one held longer."""
    from PIL import Image
    frames = []
    for n in sorted(int(name[:-4]) for name in names if is_grid_name(name)):
        try:
            with Image.open(os.path.join(folder, f"{n}.png")) as img:
                w, h = img.width // GRID_SCALE, img.height // GRID_SCALE
                frames.append(img.convert("RGB" if img.mode == "RGB" else "L").resize((w, h), Image.NEAREST)
                              .resize((w * GIF_SCALE, h * GIF_SCALE), Image.NEAREST))
        except (OSError, ValueError):
            continue  # a grid someone replaced with something else: the GIF goes without it
    if frames:
        durations = [120] * (len(frames) - 1) + [2000]
        atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True,
                                                      append_images=frames[1:], duration=durations, loop=0))
