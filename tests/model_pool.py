"""Built models shared by a test process's trainings (issue 46): a model's
tf.function is traced once per model object (~1.5 s, a third of a short run's
time), so the trainings of tests about folders and messages (`no_xla` in
conftest.py) reuse the models an earlier `gan_2014.main` of this process built
with the same constructor arguments, reset to exactly the state a fresh build
leaves: every variable the model owns (`all_variables()` and any other in its
attributes), its attributes, the networks' `trainable` flags, and the global
random state after the build (Python's, NumPy's, Keras's global seed
generator). Reused only when the global random state before the build is the
fresh build's too (`main` seeds it just before), so the run cannot tell: that
is `test_model_pool.py`'s to prove. Tests of the numbers (XLA, determinism)
never use it: their builds are fresh."""
import contextlib
import copy
import random

import numpy as np

import gan_2014

POOLED = (gan_2014.GAN, gan_2014.PaperGAN)  # not ToyGAN (its own loop) nor anything a test defines
LIMIT = 24  # models kept per process, the most recently built ones (~30 MB each)


def _key(cls, args, kwargs):
    def plain(v):
        if isinstance(v, np.ndarray):
            return ("ndarray", v.shape, v.dtype.str, v.tobytes())
        return tuple(map(plain, v)) if isinstance(v, (list, tuple)) else v
    return cls, plain(args), tuple(sorted((k, plain(v)) for k, v in kwargs.items()))


def _global_rng():
    import keras
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    gen = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    return random.getstate(), np.random.get_state(), gen, None if gen is None else np.array(keras.ops.convert_to_numpy(gen.state))


def _same_rng(a, b):
    (pa, na, ga, sa), (pb, nb, gb, sb) = a, b
    return (pa == pb and all(np.array_equal(x, y) for x, y in zip(na, nb)) and ga is gb
            and (sa is None) == (sb is None) and (sa is None or np.array_equal(sa, sb)))


def _set_global_rng(state):
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    py, npy, gen, value = state
    random.setstate(py)
    np.random.set_state(npy)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, gen)
    if gen is not None:
        gen.state.assign(value)


def _variables(gan):
    import keras
    found = {id(v): v for v in gan.all_variables()}
    for value in vars(gan).values():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, keras.Variable):
                found.setdefault(id(v), v)
    return list(found.values())


class Snapshot:
    """What a fresh build left: restored, the model is that fresh build."""

    def __init__(self, gan, rng_before):
        import keras
        self.rng_before, self.rng_after = rng_before, _global_rng()
        self.values = [(v, np.array(keras.ops.convert_to_numpy(v))) for v in _variables(gan)]
        self.attributes = dict(vars(gan))
        self.trainable = [(m, m.trainable) for m in (gan.generator, gan.discriminator, getattr(gan, "combined", None))
                          if m is not None]

    def restore(self, gan):
        vars(gan).clear()
        vars(gan).update({k: copy.copy(v) if type(v) in (dict, list) else v for k, v in self.attributes.items()})
        for v, value in self.values:
            v.assign(value)
        for model, flag in self.trainable:
            model.trainable = flag
        _set_global_rng(self.rng_after)


class Pool:
    def __init__(self):
        self.models = []     # [(key, gan, snapshot)], oldest first
        self.taken = set()   # ids of the models the current main() holds
        self.inside = False  # in a pooled main(): only then are models shared

    def new(self, cls, *args, **kwargs):
        gan = object.__new__(cls)
        if not self.inside or cls not in POOLED or kwargs.get("seed") is None:
            return gan
        key, rng = _key(cls, args, kwargs), _global_rng()
        for k, model, snapshot in self.models:
            if k == key and id(model) not in self.taken and _same_rng(snapshot.rng_before, rng):
                self.taken.add(id(model))
                model._pool_reset = snapshot
                return model
        gan._pool_build = (key, rng)
        return gan

    def init(self, cls, original, gan, *args, **kwargs):
        snapshot = vars(gan).pop("_pool_reset", None)
        if snapshot is not None:
            return snapshot.restore(gan)
        build = vars(gan).pop("_pool_build", None) if type(gan) is cls else None
        original(gan, *args, **kwargs)
        if build is not None:
            self.models.append((build[0], gan, Snapshot(gan, build[1])))
            self.taken.add(id(gan))
            del self.models[:-LIMIT]


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
