"""Compiled models shared by a test process's trainings (issue 46): a model's
tf.function is traced once per model object (~1.5 s, a third of a short run's
time), so the trainings of tests about folders and messages (`no_xla` in
conftest.py) run on the model objects an earlier `gan_2014.main` of this
process built with the same constructor arguments but the seed. Each
construction gets the state a fresh build leaves (its initial weights, its
random stream, the global random state it draws from): built afresh, as the
script asks, or, when a build from the same arguments, seed and global random
state was made before, recalled from that build with the random state it
left. The shared object then takes that state: every variable
(`all_variables()` and any other in its attributes), its plain attributes
(numbers, strings, arrays), the networks' `trainable` flags. Only the traced
functions and the objects they hold are the shared object's. Inside a shared
run TensorFlow's seed is set without clearing its kernel cache
(`_seeding_keeps_functions`). `test_model_pool.py` proves a run cannot tell.
Tests of the numbers (XLA, determinism) never use it."""
import contextlib
import copy
import hashlib
import pickle

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


def built_state(gan):
    """What a construction leaves: plain attributes (copied), the names of the
    others, every variable's value, the networks' `trainable` flags."""
    return dict(plain={k: copy.deepcopy(v) for k, v in vars(gan).items() if _plain(v)},
                other={k for k, v in vars(gan).items() if not _plain(v)},
                values=[np.array(v.value) for v in _variables(gan)],
                trainable=[None if n is None else n.trainable for n in _networks(gan)])


def adopt(shared, state):
    """`shared` takes a construction's `built_state`, keeping its own Keras objects;
    False when they do not match variable for variable (the caller then builds afresh)."""
    if not state["other"] <= set(vars(shared)) or not all(not _plain(vars(shared)[k]) for k in state["other"]):
        return False
    attributes = {k: vars(shared)[k] for k in state["other"]}
    attributes.update(copy.deepcopy(state["plain"]))
    vars(shared).clear()
    vars(shared).update(attributes)
    mine = _variables(shared)  # (without what a run added since, as a fresh build is)
    if [(tuple(v.shape), np.dtype(v.dtype)) for v in mine] != [(a.shape, a.dtype) for a in state["values"]]:
        return False
    for v, value in zip(mine, state["values"]):
        v.assign(value)
    for n, trainable in zip(_networks(shared), state["trainable"]):
        if n is not None:
            n.trainable = trainable
    return True


def _random_state():
    """The global random state a construction draws from (its layers' default
    seeds come from Python's `random`), or None when Keras holds a global seed
    generator, whose state a cached construction could not advance."""
    import random
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    if global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR) is not None:
        return None
    return random.getstate(), np.random.get_state(), global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED)


def _set_random_state(state):
    import random
    random.setstate(state[0])
    np.random.set_state(state[1])


def _fingerprint(random_state):
    return hashlib.sha256(pickle.dumps(random_state)).hexdigest()


class Pool:
    def __init__(self):
        self.models = []     # [(key, gan)], oldest first
        self.taken = set()   # ids of the models the current main() holds
        self.inside = False  # in a pooled main(): only then are models shared
        self.adopted = 0     # constructions that ran on a shared model
        self.built = {}      # (arguments with the seed, random state before) -> (built_state, random state after)
        self.recalled = 0    # constructions whose build was recalled, not repeated

    def new(self, cls, *args, **kwargs):
        gan = object.__new__(cls)
        if not self.inside or cls not in POOLED:
            return gan
        key = _key(cls, args, kwargs)
        for k, model in self.models:
            if k == key and id(model) not in self.taken:
                self.taken.add(id(model))
                model._pool = (key, True)
                return model
        gan._pool = (key, False)
        return gan

    def init(self, cls, original, gan, *args, **kwargs):
        """Build `gan` as `original` does, or, on a shared object, give it the state such a build leaves."""
        key, shared = vars(gan).pop("_pool", (None, False)) if type(gan) is cls else (None, False)
        if key is None:  # outside a pooled main, or a subclass's __init__ calling this one's
            return original(gan, *args, **kwargs)
        before = _random_state()
        build = (key, kwargs.get("seed"), _fingerprint(before)) if before is not None else None
        if shared:
            if build in self.built:  # built before from this very state: the same weights and draws
                state, after = self.built[build]
                if adopt(gan, state):
                    _set_random_state(after)
                    self.adopted, self.recalled = self.adopted + 1, self.recalled + 1
                    return None
            fresh = object.__new__(cls)
            original(fresh, *args, **kwargs)  # the build the script asked for
            state = built_state(fresh)
            if adopt(gan, state):
                self.adopted += 1
            else:
                vars(gan).clear()
                vars(gan).update(vars(fresh))
            self._remember(build, state)
            return None
        original(gan, *args, **kwargs)
        self.models.append((key, gan))
        self.taken.add(id(gan))
        del self.models[:-LIMIT]
        self._remember(build, built_state(gan))
        return None

    def _remember(self, build, state):
        after = _random_state()
        if build is not None and after is not None:
            self.built[build] = (state, after)
            while len(self.built) > LIMIT:
                del self.built[next(iter(self.built))]


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
def _seeding_keeps_functions():
    """TensorFlow's global seed set without clearing its kernel cache. tf.random.set_seed
    (in each run's keras.utils.set_random_seed) clears the cache so that seeded
    stateful random kernels start again; it also drops every function's
    instantiation, so a shared model's first iteration in each run took 0.4 s
    instead of 0.02 s. A run draws only from Keras's seed generators (stateless
    kernels fed from a variable): no kernel in the cache holds a seed's state."""
    from tensorflow.python import pywrap_tfe
    from tensorflow.python.eager import context
    cls = type(context.context())
    original = cls._set_global_seed

    def set_global_seed(self, seed):
        clear = pywrap_tfe.TFE_ContextClearCaches
        pywrap_tfe.TFE_ContextClearCaches = lambda handle: None
        try:
            return original(self, seed)
        finally:
            pywrap_tfe.TFE_ContextClearCaches = clear

    cls._set_global_seed = set_global_seed
    try:
        yield
    finally:
        cls._set_global_seed = original


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
        with _seeding_keeps_functions():
            yield POOL
    finally:
        gan_2014.JIT_COMPILE, gan_2014.main = saved_jit, main
