"""Recording a training into its run folder, once the folder is checked
(run_folder.RunFolder): history.csv's rows, the grids and the GIF, losses.png,
TensorBoard's events, best/, the checkpoints and the final weights."""
import contextlib
import csv
import json
import math
import os
import shutil
import signal
import time

import numpy as np

from gan_2014_utils import backend, events
from gan_2014_utils.files import WRITE_GUARDS, atomic_write, file_sha256, kind_of, remove_temporaries, write_text
from gan_2014_utils.history import (COLUMN, HISTORY, CollapseWatch, RecentMean, flush, plot_history, progress_bar,
                                    read_history, row_text, rows_digest, write_history, write_row)
from gan_2014_utils.pictures import GIF, grid_files, make_gif
from gan_2014_utils.process import Interrupted, Stopped, WriteError, one_line
from gan_2014_utils.run_folder import (BEST_FILES, CHECKPOINT, FINAL_WEIGHTS, Restored, event_files, save_weights,
                                       write_checkpoint)

# The settings TensorBoard's HParams tab compares runs by
HPARAMS = ("arch", "seed", "batch_size", "latent_dim", "g_loss", "d_steps", "train_on_batch", "data_sha256",
           "backend")


class Recorder:
    """Every file a training writes into a checked RunFolder, from its first
    iteration to its last checkpoint. A context manager: entered, the folders
    become the run's; meanwhile Ctrl-C, SIGTERM and SIGHUP (a closed terminal)
    ask the loop to finish its iteration, checkpoint and stop.

    `start` is the first iteration to train after, `fixed_noise` the 25 latent
    points of every grid, `history` the rows so far."""

    def __init__(self, run, gan, epochs):
        self.run, self.gan, self.epochs = run, gan, epochs
        self.settings, self.path, self.guard = run.settings, run.path, run.guard
        self.run_id = self.settings.get("run_id", events.PYTHON_RUN)  # what names its event files
        self.files = {}  # every file this run wrote: its key -> sha256 (an event file: length:sha256)
        self.history, self.rows, self.best = [], None, None
        self.stop_signal, self.bar, self.saved_at, self.events = None, None, 0, None

    def __enter__(self):
        self.start, self.fixed_noise = self.begin(self.gan)
        self.previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        self.t0 = time.perf_counter() - self.elapsed
        self.history_file = open(self.path(HISTORY), "a", newline="")
        self.writer = csv.writer(self.history_file)
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.history_file.close()
        if self.events is not None:
            self.events.close()
        if self.bar is not None and (not self.history or self.history[-1][0] < self.epochs):
            print(flush=True)  # end the bar's unfinished line: a message that follows starts its own

    def request_stop(self, signum, frame):
        if self.stop_signal is not None:  # asked twice: leave now; the last checkpoint is whole either way
            raise Interrupted(signum)
        self.stop_signal = signum

    def begin(self, gan):
        """Make the folders the run's: --overwrite's removals, run.json, the grid
        folder's mark, the checkpoint's state, the history and events up to it,
        what a resumed run rebuilds; a new run's fixed noise and its grid 0."""
        run = self.run
        if run.images_lost:
            print(one_line(f"gan_2014: the run's grid folder {run.images}/ is missing; made again, it holds "
                           f"the grids from iteration {run.restored.iteration if run.restored else 0} on"),
                  flush=True)
        for folder in (run.dir, run.images):
            os.makedirs(folder, exist_ok=True)
        if run.overwrite:
            run.remove_old_run()
        for folder in (run.dir, run.images):
            remove_temporaries(folder)
        if "run_id" in self.settings:  # a command-line run: run.json and the grid folder's mark
            run.claim_images()
            self.settings["checkpointed"] = run.restored is not None
            self.settings["backend"] = backend.name()  # the backend it trains on now (a run may move)
            run.write_settings()
        WRITE_GUARDS.append(self.guard)  # every file it writes, checked just before it lands
        restored = run.restored or Restored(0, 0.0, None, None, None)
        start, self.elapsed, fixed_noise, self.best = restored[:4]
        self.saved_at = self.start = start
        self.history = read_history(self.path(HISTORY), upto=start)
        write_history(self.path(HISTORY), self.history)  # drops rows a killed run wrote past its checkpoint
        self.rows = rows_digest(self.history)
        self.watch = CollapseWatch(self.history, since=restored.collapsed_since)
        self.recent = RecentMean(100)
        recorded = run.meta["files"] if run.meta is not None else {}
        if run.resume or run.meta is not None:  # a run that starts again keeps none of its files
            self.files = {k: v for k, v in recorded.items() if k != HISTORY and kind_of(self.path(k)) == "file"}
            self.rebuild(start)
        self.cut_events(recorded)
        if self.settings.get("tensorboard", True):
            self.events = events.EventLog(run.dir, start, self.run_id)
            self.events.settings(start, {k: self.settings[k] for k in HPARAMS if k in self.settings} |
                                 {"run_id": self.run_id})
        if fixed_noise is None:
            # One fixed batch of 25 latent points for every grid of the run, so the
            # grids show the same points evolving rather than new random digits.
            fixed_noise = gan.host_noise(np.random.default_rng(gan.seed), 25)
            self.add_grid(0, gan.sample_images(0, run.images, fixed_noise))  # the untrained generator
        return start, fixed_noise

    def cut_events(self, recorded):
        """TensorBoard's events back to the checkpoint, as history.csv: each event
        file it recorded cut to its recorded length (the run folder checked the
        bytes up to there), this run's others (started at or after it) removed."""
        for name in event_files(self.run.dir):
            path = self.path(name)
            if name in recorded and kind_of(path) == "file":
                length, _ = events.parse_record(recorded[name])
                if os.path.getsize(path) > length:
                    os.truncate(path, length)
                self.files[name] = recorded[name]
            elif events.owner(name) == self.run_id[:8] and kind_of(path) == "file":
                os.remove(path)

    def rebuild(self, start):
        """What a resumed run writes again itself, it rewrites rather than refuses:
        grids past the checkpoint, the GIF, the final weights and best/ (chosen
        again from the next estimates) that the checkpoint did not record as they
        are now are set aside (never deleted), in one line; the plot is redrawn."""
        keys = [f"images/{n}" for n in grid_files(self.run.images) if n == GIF or int(n[:-4]) > start]
        keys += [k for k in FINAL_WEIGHTS + tuple(f"best/{n}" for n in BEST_FILES) if kind_of(self.path(k)) == "file"]
        aside = [k for k in keys if k not in self.files or self.files[k] != file_sha256(self.path(k))]
        if any(k.startswith("best/") for k in aside):  # best/ goes whole: a generator and its score
            aside += [k for k in keys if k.startswith("best/") and k not in aside]
        if aside:
            self.set_aside(aside, start)
        if not all(f"best/{n}" in self.files for n in BEST_FILES):
            self.best = None
        if self.history:
            plot_history(self.history, self.path("losses.png"))

    def set_aside(self, keys, start):
        """Move files out of the run's way into run_dir/set-aside/TIME/, saying where."""
        folder = os.path.join(self.run.dir, "set-aside", time.strftime("%Y%m%d-%H%M%S"))
        while os.path.lexists(folder):
            folder += "+"
        for key in keys:
            dest = os.path.join(folder, key)
            try:
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.move(self.path(key), dest)  # a copy when the grid folder is on another disk
            except OSError as e:  # a full disk: the file stays where it was, no half copy beside it
                if os.path.lexists(self.path(key)):
                    with contextlib.suppress(OSError):
                        os.remove(dest)
                raise WriteError(dest, e.strerror or str(e)) from None
            self.files.pop(key, None)
        shown = ", ".join(self.path(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
        print(one_line(f"gan_2014: {len(keys)} file(s) that the checkpoint of iteration {start} did not record as "
                       f"they are ({shown}) set aside in {folder}/; the run writes its own"), flush=True)

    def record(self, gan, it, d_loss_real, d_loss_fake, d_loss, g_loss):
        """One iteration's row of history.csv and its events; when due, the held-out
        estimate (and best/); the collapse watch; the progress bar."""
        row = [it, *(float(v) for v in (d_loss_real[0], d_loss_fake[0], d_loss[0], d_loss[1], g_loss)),
               round(time.perf_counter() - self.t0, 3), math.nan]
        if not all(math.isfinite(v) for v in row[:-1]):
            raise Stopped(f"training diverged at iteration {it} (D loss {d_loss[0]}, G loss {g_loss})",
                          it, self.saved_at, 1)
        self.guard()
        every = self.settings.get("eval_every")
        if every and self.run.monitor and (it % every == 0 or it == self.epochs):
            row[COLUMN["heldout_ll"]] = self.estimate(gan, it)
        write_row(self.writer, self.path(HISTORY), row)
        self.rows.update(row_text(row).encode())
        self.history.append(row)
        if self.events is not None:
            self.events.scalars(it, {tag: row[COLUMN[name]] for name, tag in events.TAGS.items()
                                     if not math.isnan(row[COLUMN[name]])} | gan.logged)
        news = self.watch.add(it, row[COLUMN["d_loss"]], row[COLUMN["g_loss"]])
        if news:  # said once, on a line of its own; the run goes on
            print(("\n" if self.bar is not None else "") + news, flush=True)
        if self.run.progress:
            self.show_progress(it, row)

    def estimate(self, gan, it):
        """The held-out Parzen estimate, said in one line; a better one than before goes to best/."""
        ll, se, sigma = self.run.monitor(gan)
        if self.best is None or ll > self.best[1]:
            self.best = (it, ll)
            self.save_best(gan, it, ll, se, sigma)
        print(f"gan_2014: iteration {it}: held-out Parzen LL {ll:.1f} ± {se:.1f} (sigma {sigma:.3f}); "
              f"best {self.best[1]:.1f} at iteration {self.best[0]}", flush=True)
        return round(ll, 3)

    def show_progress(self, it, row):
        if self.bar is None:
            # Made after this process's first iteration, which includes compiling:
            # Keras's ETA leaves out only the bar's first step.
            self.bar = progress_bar(self.epochs, self.start)
        # values as they are now (the last 100 iterations), not since iteration 1
        self.recent.add(*(row[COLUMN[name]] for name in ("d_loss", "d_acc", "g_loss")))
        self.bar.update(it, list(zip(["D loss", "D acc", "G loss"], self.recent.mean())))

    def log_due(self, it, sample_interval):
        """gan.py's line every --log-every, by default with each grid; never under a progress bar."""
        every = self.settings.get("log_every") or sample_interval
        return not self.run.progress and (it % every == 0 or it == self.epochs)

    def checkpoint_due(self, it):
        """At every interval and on a signal (which then stops the run); the last one is `finish`'s."""
        every = self.settings.get("checkpoint_interval")
        return bool(every and it % every == 0 and it < self.epochs) or self.stop_signal is not None

    def add_grid(self, it, path):
        """A grid was written: record it, show it in TensorBoard, and bring
        history.csv, the events and losses.png up to date with it."""
        self.files[f"images/{os.path.basename(path)}"] = file_sha256(path)
        if self.events is not None:
            with open(path, "rb") as f:
                png = f.read()
            self.events.image(it, events.GRID_TAG, png, *events.png_size(png))
            self.events.flush()
        if it:
            flush(self.history_file, self.path(HISTORY))
            plot_history(self.history, self.path("losses.png"))

    def save_best(self, gan, iteration, ll, se, sigma):
        """best/: the generator with the best held-out estimate so far, and what it scored."""
        self.guard()  # the estimate took seconds
        folder = os.path.join(self.run.dir, "best")
        save_weights(gan, folder, [gan.generator])
        record = {"arch": gan.arch, "latent_dim": gan.latent_dim, "iteration": iteration,
                  "heldout_ll": ll, "se": se, "sigma": sigma, "run_id": self.settings.get("run_id")}
        atomic_write(os.path.join(folder, "best.json"), lambda tmp: write_text(tmp, json.dumps(record, indent=1)))
        for name in BEST_FILES:
            self.files[f"best/{name}"] = file_sha256(os.path.join(folder, name))

    def recorded_files(self):
        """What a checkpoint records: every file, history.csv's rows, each event file up to its length now."""
        if not self.history_file.closed:
            flush(self.history_file, self.path(HISTORY))
        if self.events is not None:
            if not self.events.closed:
                self.events.flush()
            self.files[os.path.basename(self.events.path)] = self.events.record()
        return {**self.files, HISTORY: self.rows.hexdigest()}

    def save_checkpoint(self, gan, it):
        """The model's state, with the run's id and settings (a lost run.json is
        rebuilt from them) and every file it wrote so far; after a stop request,
        raises Stopped once it is written."""
        record = {"collapsed_since": self.watch.since, "files": self.recorded_files()}
        if self.history and self.history[0][0] == 1:
            record["first_row"] = [float(v) for v in self.history[0][COLUMN["d_loss_real"]:COLUMN["seconds"]]]
        if "run_id" in self.settings:
            record.update(run_id=self.settings["run_id"], settings=self.settings)
        write_checkpoint(gan, self.path(CHECKPOINT), it, time.perf_counter() - self.t0, self.fixed_noise,
                         self.best, self.saved_at, **record)
        self.saved_at = it
        if "run_id" in self.settings and not self.settings["checkpointed"]:
            self.settings["checkpointed"] = True  # from now on a lost checkpoint is not a fresh start
            self.run.write_settings()
        if self.stop_signal is not None:
            raise Stopped(f"stopped by {signal.Signals(self.stop_signal).name}", it, it, 128 + self.stop_signal)

    def finish(self, gan):
        """The final weights and the GIF, then the last checkpoint, which records them."""
        self.guard()
        save_weights(gan, self.run.dir)
        grids = [k[7:] for k, digest in self.files.items() if k.startswith("images/") and k != "images/" + GIF
                 and kind_of(self.path(k)) == "file" and file_sha256(self.path(k)) == digest]
        make_gif(self.run.images, grids, self.path("images/" + GIF))  # the run's own grids: no file dropped in
        for key in FINAL_WEIGHTS + ("images/" + GIF,):
            if kind_of(self.path(key)) == "file":
                self.files[key] = file_sha256(self.path(key))
        restored, meta = self.run.restored, self.run.meta
        at_end = restored is not None and restored.iteration == self.epochs
        if not at_end or meta["files"] != self.recorded_files():
            self.save_checkpoint(gan, self.epochs)  # else the checkpoint says it all already
