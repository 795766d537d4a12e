"""history.csv (a row per iteration), its plot losses.png, what the progress
bar shows, and the collapse watch."""
import collections
import csv
import hashlib
import math
import os

import numpy as np

from gan_2014_utils.files import atomic_write
from gan_2014_utils.pictures import pyplot
from gan_2014_utils.process import WriteError, lazy

keras = lazy("keras")

HISTORY = "history.csv"
HISTORY_FIELDS = ["iteration", "d_loss_real", "d_loss_fake", "d_loss", "d_acc", "g_loss", "seconds",
                  "heldout_ll"]
COLUMN = {name: i for i, name in enumerate(HISTORY_FIELDS)}  # a row's field by name: row[COLUMN["d_loss"]]


def csv_cells(row):
    """A row's cells as history.csv holds them: an iteration with no estimate has an empty heldout_ll."""
    return ["" if isinstance(v, float) and math.isnan(v) else v for v in row]


def row_text(row):
    """A history row as history.csv holds it (Python floats round-trip through their text)."""
    return ",".join(map(str, csv_cells(row))) + "\n"


def rows_digest(rows):
    """The sha256 of history rows, as the checkpoint records it: the same rows read back give the same."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row_text(row).encode())
    return digest


def parse_row(line):
    """A row from one line of history.csv, or None (the header, a damaged line, a line cut short by a kill)."""
    parts = line.strip().split(",")
    if len(parts) not in (len(HISTORY_FIELDS) - 1, len(HISTORY_FIELDS)):
        return None
    try:
        row = [int(parts[0])] + [float(p) for p in parts[1:7]]
        row.append(float(parts[7]) if len(parts) > 7 and parts[7] else math.nan)
    except ValueError:
        return None
    return row


def read_history(path, upto):
    """Rows of history.csv for iterations 1..upto, in order (a killed run may have
    written more; a damaged line is skipped, whatever it holds)."""
    rows = []
    if not os.path.isfile(path):
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        while True:
            line = f.readline(10000)
            if not line:
                break
            if not line.endswith("\n") and len(line) == 10000:
                while line and not line.endswith("\n"):  # the rest of an overlong line
                    line = f.readline(10000)
                continue
            row = parse_row(line)
            if row is not None and (rows[-1][0] if rows else 0) < row[0] <= upto:
                rows.append(row)
    return rows


def write_history(path, rows):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(HISTORY_FIELDS)
            writer.writerows(csv_cells(r) for r in rows)
    atomic_write(path, write)


def write_row(writer, path, row):
    try:
        writer.writerow(csv_cells(row))
    except OSError as e:
        raise WriteError(path, e.strerror or e) from None


def flush(file, path):
    try:
        file.flush()
    except OSError as e:
        raise WriteError(path, e.strerror or e) from None


_FIGURES = {}  # panels -> (figure, axes, lines): drawn again, not made again


def plot_history(history, path):
    """Losses and discriminator accuracy against iterations, smoothed for reading,
    and the held-out Parzen estimate when the run measures one."""
    h = np.asarray(history, dtype=np.float64)
    column = lambda name: h[:, COLUMN[name]]
    it = column("iteration")
    window = max(1, len(h) // 200)
    smooth = lambda v: np.convolve(v, np.ones(window) / window, mode="valid")
    x = it[window - 1:]
    measured = np.isfinite(column("heldout_ll"))
    panels = 3 if measured.any() else 2
    if panels not in _FIGURES:
        _FIGURES[panels] = new_figure(panels)
    fig, axes, (d_loss, g_loss, d_acc, ll) = _FIGURES[panels]
    d_loss.set_data(x, smooth(column("d_loss")))
    g_loss.set_data(x, smooth(column("g_loss")))
    d_acc.set_data(x, 100 * smooth(column("d_acc")))
    if ll is not None:
        ll.set_data(it[measured], column("heldout_ll")[measured])
    for ax in axes:
        ax.relim()
        ax.autoscale_view()
    axes[-1].set_xlabel("iteration" + (f" (moving mean over {window})" if window > 1 else ""))
    # The figure and its ticks are reused and the PNG barely compressed: the plot
    # is redrawn at every grid, and a new figure, its ticks and zlib's best
    # compression were most of its time (0.13 s a plot, then 0.06 s).
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, pil_kwargs={"compress_level": 1}))


def new_figure(panels):
    plt = pyplot()
    fig, axes = plt.subplots(panels, 1, figsize=(8, 3 * panels), sharex=True)
    ax1, ax2 = axes[0], axes[1]
    d_loss, = ax1.plot([], [], label="D loss (mean of real and fake)")
    g_loss, = ax1.plot([], [], label="G loss")
    ax1.axhline(math.log(4) / 2, color="grey", lw=0.8, ls="--", label="D loss at equilibrium (log 2)")
    ax1.set_ylabel("binary cross-entropy")
    ax1.legend(loc="upper right", fontsize="small")
    d_acc, = ax2.plot([], [], color="tab:green")
    ax2.axhline(50, color="grey", lw=0.8, ls="--")
    ax2.set_ylim(-3, 103)  # a line at 0% or 100% stays visible above the frame
    ax2.set_ylabel("D accuracy (%)")
    ll = None
    if panels == 3:
        ll, = axes[2].plot([], [], "o-", color="tab:purple", ms=3)
        axes[2].set_ylabel("--eval-every Parzen LL (nats)")
    # Fixed margins: tight_layout measured every label and was a third of the
    # plot's time, at every checkpoint.
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.5 / (3 * panels), top=1 - 0.15 / (3 * panels), hspace=0.12)
    return fig, axes, (d_loss, g_loss, d_acc, ll)


def progress_bar(epochs, start):
    """Keras's progress bar over the run's iterations (a resumed run's from its
    checkpoint's, 2296/30000), its rate and time left from this process's alone."""
    class RunProgbar(keras.utils.Progbar):
        def _estimate_step_duration(self, current, now):
            return super()._estimate_step_duration(current - start, now)
    return RunProgbar(epochs, unit_name="iteration", stateful_metrics=["D loss", "D acc", "G loss"])


class RecentMean:
    """The mean of the last n values of a few series: what the progress bar shows."""

    def __init__(self, n):
        self.n, self.rows = n, []

    def add(self, *values):
        self.rows.append(values)
        del self.rows[:-self.n]

    def mean(self):
        return np.mean(self.rows, axis=0).tolist()


COLLAPSE_WINDOW = 500     # iterations the collapse watch looks back over (CollapseWatch)
COLLAPSE_D_LOSS = 0.01    # D's mean loss over them under this: the run has collapsed


class CollapseWatch:
    """Notices a run whose discriminator has won for good: over the last
    `window` iterations it told real digits from generated ones with a mean
    loss under `threshold` (calibrated on the authors' model, docs/results.md#collapse).
    Then G's gradient through D is all but gone and its samples stop changing.
    `since` is the first iteration of the window where that began; it clears
    if D's mean loss climbs back over ten times the threshold."""

    def __init__(self, history=(), since=None):
        self.since, self.window, self.threshold = since, COLLAPSE_WINDOW, COLLAPSE_D_LOSS
        self.recovered = 10 * self.threshold
        self.recent = collections.deque()  # (D loss, G loss) of the window, and their running sums:
        self.sums = [0.0, 0.0]             # one addition a step, not a mean of 500 rows
        for row in history[-self.window:]:  # a resumed run looks back as far as an uninterrupted one
            self._push(row[COLUMN["d_loss"]], row[COLUMN["g_loss"]])

    def _push(self, d_loss, g_loss):
        self.recent.append((d_loss, g_loss))
        self.sums = [self.sums[0] + d_loss, self.sums[1] + g_loss]
        if len(self.recent) > self.window:
            d_old, g_old = self.recent.popleft()
            self.sums = [self.sums[0] - d_old, self.sums[1] - g_old]

    def add(self, iteration, d_loss, g_loss):
        """Returns a line to print when the run collapses or recovers, else None."""
        self._push(float(d_loss), float(g_loss))
        if len(self.recent) < self.window:
            return None
        d_mean, g_mean = (total / self.window for total in self.sums)
        if self.since is None and d_mean < self.threshold:
            self.since = iteration - self.window + 1
            return (f"gan_2014: iteration {iteration}: the run has collapsed: since iteration {self.since} the "
                    f"discriminator has told every real digit from every generated one (mean D loss "
                    f"{d_mean:.3g} over {self.window} iterations, G loss {g_mean:.3g}), so the generator learns "
                    "next to nothing; training goes on in case it recovers, but a new run with another --seed "
                    "is the likelier fix")
        if self.since is not None and d_mean > self.recovered:
            since, self.since = self.since, None
            return (f"gan_2014: iteration {iteration}: the run has recovered from the collapse of iteration "
                    f"{since} (mean D loss {d_mean:.3g} over {self.window} iterations)")
        return None


def collapse_note(path, since):
    """What sample, evaluate and --resume say of a checkpoint that recorded a collapse."""
    return (f"gan_2014: note: {path} records that its run collapsed at iteration {since} (its discriminator "
            "won for good); its samples will show it; a run with another --seed is the likelier fix")
