"""TensorBoard's event files in the run folder: every iteration's losses, the
grids as images, the run's settings as HParams. Written with TensorBoard's own
record writer and protocol buffers, which import no TensorFlow (on the torch
backend an imported TensorFlow crashes the process).

A run writes one file per start (`events.out.tfevents.<first iteration>.<run id>`),
appended as it trains and flushed with history.csv. Each checkpoint records every
file's length and the sha256 of its bytes up to there; a resumed run cuts the
last one back to that length, as it cuts history.csv back to the checkpoint's
rows, so that TensorBoard reads every iteration once, as history.csv has it."""
import hashlib
import os
import re
import time

import numpy as np

from gan_2014_utils.process import WriteError, lazy

event_pb2 = lazy("tensorboard.compat.proto.event_pb2")
summary_pb2 = lazy("tensorboard.compat.proto.summary_pb2")
tensor_pb2 = lazy("tensorboard.compat.proto.tensor_pb2")
record_writer = lazy("tensorboard.summary.writer.record_writer")
scalar_metadata = lazy("tensorboard.plugins.scalar.metadata")
image_metadata = lazy("tensorboard.plugins.image.metadata")
hparams_summary = lazy("tensorboard.plugins.hparams.summary_v2")

TFEVENTS = "tfevents"  # what TensorBoard looks for in a file's name
OURS = re.compile(r"events\.out\.tfevents\.(\d{12})\.([0-9a-f]{8})\.gan_2014$")
# history.csv's columns as TensorBoard's tags, grouped by what they measure
TAGS = {"d_loss_real": "loss/d_real", "d_loss_fake": "loss/d_fake", "d_loss": "loss/d", "g_loss": "loss/g",
        "d_acc": "accuracy/d", "heldout_ll": "heldout/parzen_ll"}
GRID_TAG = "samples/grid"
PYTHON_RUN = "0" * 32  # the run id of a run made in Python (RunFolder without run.json): one per folder


def is_events_name(name):
    return TFEVENTS in name


def file_name(start, run_id):
    return f"events.out.tfevents.{start:012d}.{run_id[:8]}.gan_2014"


def owner(name):
    """The first 8 digits of the run id in one of our event files' name; None for any other name."""
    match = OURS.match(name)
    return match and match.group(2)


def start_of(name):
    """The iteration one of our event files starts after."""
    return int(OURS.match(name).group(1))


def record_of(length, digest):
    """How a checkpoint records an event file: its length, and the sha256 of its bytes up to it."""
    return f"{length}:{digest}"


def parse_record(text):
    length, _, digest = text.partition(":")
    return (int(length), digest) if length.isdigit() and len(digest) == 64 else None


def prefix_sha256(path, length):
    """The sha256 of a file's first `length` bytes, or None when it is shorter."""
    digest, left = hashlib.sha256(), length
    with open(path, "rb") as f:
        while left:
            block = f.read(min(left, 1 << 20))
            if not block:
                return None
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def import_problem():
    """None, or why TensorBoard's writer does not import (asked before a run's folder is touched)."""
    try:
        record_writer.RecordWriter, hparams_summary.hparams_pb  # noqa: B018 (importing them is the check)
    except ImportError as e:
        return (f"TensorBoard's event writer does not import ({e}); pip install -r requirements.txt "
                "(it names tensorboard), or pass --no-tensorboard")
    return None


class EventLog:
    """One start's event file, appended with a running sha256 of what it holds."""

    def __init__(self, folder, start, run_id):
        self.path = os.path.join(folder, file_name(start, run_id))
        self.file = open(self.path, "ab")  # a start after a kill may find its own cut-back file
        self.length = self.file.tell()    # continue what is there (checked and cut back by the run folder)
        self.digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                self.digest.update(block)
        self.writer = record_writer.RecordWriter(_Counted(self))
        self.tagged = set()  # tags whose plugin (scalars, images) this file has named
        self.pending = []    # scalars not yet written
        if not self.length:
            self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        self.writer.write(event.SerializeToString())

    def _metadata(self, tag, make):
        if tag in self.tagged:
            return None
        self.tagged.add(tag)
        return make(display_name=tag, description="")

    def settings(self, step, hparams):
        """The run's settings, for TensorBoard's HParams tab (one trial per run)."""
        self._write_pending()
        self._write(event_pb2.Event(wall_time=time.time(), step=step,
                                    summary=hparams_summary.hparams_pb(hparams, trial_id=hparams["run_id"])))

    def scalars(self, step, values):
        """`values`: tag -> number, kept until the next flush (written then, together: a
        per-iteration cost of a few microseconds). As float32, as tf.summary.scalar
        writes them (TensorBoard's own loader reads no other; history.csv's losses are
        float32 already)."""
        self.pending.append((time.time(), step, values))

    def _write_pending(self):
        for wall_time, step, values in self.pending:
            summary = summary_pb2.Summary()
            for tag, v in values.items():
                value = summary.value.add(tag=tag, simple_value=v)
                metadata = self._metadata(tag, scalar_metadata.create_summary_metadata)
                if metadata is not None:
                    value.metadata.CopyFrom(metadata)
            self._write(event_pb2.Event(wall_time=wall_time, step=step, summary=summary))
        self.pending.clear()

    def image(self, step, tag, png, height, width):
        """A PNG (a grid) as tf.summary.image writes one: [width, height, bytes]."""
        self._write_pending()  # in step order
        summary = summary_pb2.Summary()
        value = summary.value.add(tag=tag, tensor=tensor_pb2.TensorProto(
            dtype=7, tensor_shape=_shape(3), string_val=[str(width).encode(), str(height).encode(), png]))
        metadata = self._metadata(tag, image_metadata.create_summary_metadata)
        if metadata is not None:
            value.metadata.CopyFrom(metadata)
        self._write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def flush(self):
        self._write_pending()
        try:
            self.file.flush()
        except OSError as e:
            raise WriteError(self.path, e.strerror or e) from None

    def record(self):
        return record_of(self.length, self.digest.hexdigest())

    @property
    def closed(self):
        return self.file.closed

    def close(self):
        if not self.file.closed:
            self.flush()
        self.file.close()


class _Counted:
    """The file under TensorBoard's RecordWriter: counts and hashes what it writes."""

    def __init__(self, log):
        self.log = log

    def write(self, data):
        try:
            self.log.file.write(data)
        except OSError as e:
            raise WriteError(self.log.path, e.strerror or e) from None
        self.log.length += len(data)
        self.log.digest.update(data)

    def flush(self):
        self.log.flush()

    def close(self):
        self.log.file.close()

    @property
    def closed(self):
        return self.log.file.closed


def _shape(n):
    from tensorboard.compat.proto import tensor_shape_pb2
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n)])


def png_size(png):
    """(height, width) from a PNG's header."""
    width, height = np.frombuffer(png[16:24], ">u4")
    return int(height), int(width)
