"""The command line's parser and the kinds of value its options take: each bad
value is one line naming the fix, before TensorFlow loads."""
import argparse
import os

from gan_2014_utils.process import one_line

USAGE = """gan_2014.py [--epochs N] [--arch {keras-gan,paper}] [--data FILE] [--seed N] [--resume] ...
       gan_2014.py sample --weights PATH [--n N] [--out FILE] [--seed N] [--nearest | --interpolate K]
       gan_2014.py evaluate --weights PATH [--data FILE] [--samples N]
       gan_2014.py toy [--out FILE.png]"""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block: the message names the fix
        if message.endswith("expected one argument"):
            message += ("; a value that starts with '-' goes after '=' (--data=-x.npz) or as a "
                        "path (./-x.npz)")
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def path_value(text):
    """A file or folder name: an empty one would silently mean the current folder."""
    if not text:
        raise argparse.ArgumentTypeError("is empty; give a file or folder name")
    return text


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def at_least(low):
    def parse(text):
        value = positive_int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def count_or_zero(text):
    try:
        return 0 if int(text) == 0 else positive_int(text)
    except ValueError:
        return positive_int(text)  # its message


def seed_value(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 4294967295, got {text!r}") from None
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be from 0 to 4294967295 (2**32 - 1), got {value}")
    return value


def random_seed():
    return int.from_bytes(os.urandom(4), "little") >> 1


def add_generator_option(p):
    p.add_argument("--weights", required=True, metavar="PATH", type=path_value, help=(
        "a run folder (its last checkpoint, so an interrupted run works too), a best/ folder, "
        "or a generator.weights.h5 file; the architecture and latent size are read from it"))


def flag(key):
    """A setting's option: batch_size -> --batch-size (tensorboard: --no-tensorboard, its only option)."""
    return "--no-tensorboard" if key == "tensorboard" else "--" + key.replace("_", "-")


def options_given(args, keys):
    """The settings among `keys` that the command line names (None: not given)."""
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
