"""Compiled models shared by a test process's trainings (issue 46): a model's
tf.function is traced once per model object (~1.5 s, a third of a short run's
time), so the trainings of tests about folders and messages (`no_xla` in
conftest.py) run on the model objects an earlier `gan_2014.main` of this
process built with the same constructor arguments but the seed. Each
construction still builds the model afresh, as the script asks (its initial
weights, its random stream, the global random state it draws from); the shared
object then takes that fresh build's state: every variable (`all_variables()`
and any other in its attributes), its plain attributes (numbers, strings,
arrays), the networks' `trainable` flags. Only the traced functions and the
objects they hold are the shared object's. `test_model_pool.py` proves a run
cannot tell. Tests of the numbers (XLA, determinism) never use it."""
import contextlib

import numpy as np

import gan_2014

POOLED = (gan_2014.GAN, gan_2014.PaperGAN)  # not ToyGAN (its own loop) nor anything a test defines
LIMIT = 16  # models kept per process, the most recently built ones


def _key(cls, args, kwargs):
    def plain(v):
        if isinstance(v, np.ndarray):
            return ("ndarray", v.shape, v.dtype.str, v.tobytes())
        return tuple(map(plain, v)) if isinstance(v, (list, tuple)) else v
    return cls, plain(args), tuple(sorted((k, plain(v)) for k, v in kwargs.items() if k != "seed"))


def _plain(value):
    """Data, not a Keras object (a model, a variable, a random generator, a traced function)."""
    if isinstance(value, (list, tuple)):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(map(_plain, value.values()))
    return value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic))


def _variables(gan):
    import keras
    found = {id(v): v for v in gan.all_variables()}
    for value in vars(gan).values():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, keras.Variable):
                found.setdefault(id(v), v)
    return list(found.values())


def _networks(gan):
    return [getattr(gan, name, None) for name in ("generator", "discriminator", "combined")]


def adopt(shared, fresh):
    """`shared` takes `fresh`'s state, keeping its own Keras objects; False when
    they do not match variable for variable (the caller then takes `fresh` whole)."""
    attributes = {k: v if _plain(v) else vars(shared).get(k) for k, v in vars(fresh).items()}
    if any(v is None and not _plain(vars(fresh)[k]) for k, v in attributes.items()):
        return False
    vars(shared).clear()
    vars(shared).update(attributes)
    mine, theirs = _variables(shared), _variables(fresh)
    if [(tuple(v.shape), v.dtype) for v in mine] != [(tuple(v.shape), v.dtype) for v in theirs]:
        return False
    for a, b in zip(mine, theirs):
        a.assign(b.value)
    for a, b in zip(_networks(shared), _networks(fresh)):
        if a is not None:
            a.trainable = b.trainable
    return True


class Pool:
    def __init__(self):
        self.models = []     # [(key, gan)], oldest first
        self.taken = set()   # ids of the models the current main() holds
        self.inside = False  # in a pooled main(): only then are models shared
        self.adopted = 0     # constructions that ran on a shared model

    def new(self, cls, *args, **kwargs):
        gan = object.__new__(cls)
        if not self.inside or cls not in POOLED:
            return gan
        key = _key(cls, args, kwargs)
        for k, model in self.models:
            if k == key and id(model) not in self.taken:
                self.taken.add(id(model))
                model._pool_fill = True
                return model
        gan._pool_add = key
        return gan

    def init(self, cls, original, gan, *args, **kwargs):
        if type(gan) is not cls:  # a subclass's __init__ calling this one's
            return original(gan, *args, **kwargs)
        if vars(gan).pop("_pool_fill", False):
            fresh = object.__new__(cls)
            original(fresh, *args, **kwargs)  # the build the script asked for
            if adopt(gan, fresh):
                self.adopted += 1
            else:
                vars(gan).clear()
                vars(gan).update(vars(fresh))
            return None
        key = vars(gan).pop("_pool_add", None)
        original(gan, *args, **kwargs)
        if key is not None:
            self.models.append((key, gan))
            self.taken.add(id(gan))
            del self.models[:-LIMIT]
        return None


POOL = Pool()


def _install():
    """The pool's hooks on the pooled classes, once per process: outside a pooled
    main() they build as the classes do."""
    for cls in POOLED:
        original = cls.__dict__["__init__"]
        cls.__new__ = lambda c, *a, **k: POOL.new(c, *a, **k)
        cls.__init__ = (lambda cls, original: lambda self, *a, **k: POOL.init(cls, original, self, *a, **k))(
            cls, original)


_install()


@contextlib.contextmanager
def pooled():
    """gan_2014.main without XLA, its models shared with this process's earlier mains."""
    saved_jit, main = gan_2014.JIT_COMPILE, gan_2014.main

    def pooled_main(argv=None):
        outer = not POOL.inside
        if outer:
            POOL.inside, POOL.taken = True, set()
        try:
            return main(argv)
        finally:
            if outer:
                POOL.inside = False

    gan_2014.JIT_COMPILE, gan_2014.main = False, pooled_main
    try:
        yield POOL
    finally:
        gan_2014.JIT_COMPILE, gan_2014.main = saved_jit, main
