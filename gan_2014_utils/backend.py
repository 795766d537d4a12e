"""What must differ by Keras backend, one short function per backend each:
compiling a stateful step (it reads and assigns Keras variables) into one call,
running a model's own train_step inside it, and the gradients of the authors'
joint update. Everything else in gan_2014.py is keras, keras.ops and keras.random.

The backend is Keras's: KERAS_BACKEND, or ~/.keras/keras.json, as everywhere in
Keras 3. `problem()` says, in one line, why a backend this program does not run on
or one that is not installed is refused, before Keras (and TensorFlow) is imported."""
import importlib.util
import json
import os
import sys

SUPPORTED = ("tensorflow", "jax", "torch")
INSTALL = {"tensorflow": "pip install -r requirements.txt", "jax": "pip install jax", "torch": "pip install torch"}


def chosen():
    """The backend Keras will load, read as Keras reads it, without importing Keras."""
    name = os.environ.get("KERAS_BACKEND")
    if name is None:
        config = os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")),
                              "keras.json")
        try:
            with open(config) as f:
                name = json.load(f).get("backend")
        except (OSError, ValueError, AttributeError):
            name = None
    return name or "tensorflow"


def problem():
    """Why this process cannot run on its backend, as one line with the fix; None when it can."""
    name = chosen()
    if name not in SUPPORTED:
        return (f"KERAS_BACKEND={name}: gan_2014 runs on {', '.join(SUPPORTED)}; "
                "set KERAS_BACKEND to one of them (or unset it for tensorflow)")
    if importlib.util.find_spec(name) is None:
        return f"KERAS_BACKEND={name}, but {name} is not installed: {INSTALL[name]} (or unset KERAS_BACKEND)"
    return None


def _keras():
    """Keras, imported as the script imports it: its backend's start-up notices kept off the terminal."""
    if "keras" not in sys.modules:
        from gan_2014_utils.process import import_keras_quietly
        import_keras_quietly()
    import keras
    return keras


def name():
    return _keras().backend.backend()


# -----------------------------------------------------------------------------
# One compiled call of a stateful step

def jit(wanted):
    """Whether to compile: XLA on TensorFlow and JAX when wanted; never on torch,
    where Keras's jit_compile is torch.compile (43 s to compile, recompile-limit
    warnings, 0.88x the eager step: docs/speed.md#backends)."""
    return bool(wanted) and name() != "torch"


def compiled(step, variables, jit_compile=True):
    """`step(*args)` as one call: traced once per kind of argument (a Python int
    is a constant of the trace), reading and assigning `variables` as it runs
    eagerly. JAX cannot assign inside jax.jit, so there the step runs in Keras's
    StatelessScope on the variables' values, and the new values are assigned after."""
    return {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}[name()](step, variables, jit_compile)


def _tensorflow(step, variables, jit_compile):
    import tensorflow as tf
    return tf.function(step, jit_compile=jit_compile, autograph=False)


def _jax(step, variables, jit_compile):
    import jax
    import keras
    variables = list({id(v): v for v in variables}.values())

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
            TRACING.append(variables)
            try:
                out = step(*args)
            finally:
                TRACING.pop()
        return out, [scope.get_current_value(v) for v in variables]

    jitted = {}

    def call(*args):
        static = tuple(i + 1 for i, a in enumerate(args) if isinstance(a, int))
        if static not in jitted:
            jitted[static] = jax.jit(pure, static_argnums=static, donate_argnums=0) if jit_compile else pure
        out, values = jitted[static]([v.value for v in variables], *args)
        for v, value in zip(variables, values):
            v.assign(value)
        return out
    return call


def _torch(step, variables, jit_compile):
    return step  # eager, as `jit` says


TRACING = []  # the variables of the JAX step being traced (for `gradients`)


# -----------------------------------------------------------------------------
# A model's own train_step, as train_on_batch runs it

def train_step(model, x, y):
    """What train_on_batch(x, y) runs, inside a compiled step: the model's own
    train_step on fresh metrics, so its loss is this batch's. On JAX, Keras's
    train_step is stateless (it takes and returns the model's state)."""
    model.reset_metrics()
    if name() != "jax":
        return model.train_step((x, y))
    groups = (model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
              model.metrics_variables)
    logs, state = model.train_step(tuple([v.value for v in g] for g in groups), (x, y))
    for group, values in zip(groups, state):
        for v, value in zip(group, values):
            v.assign(value)
    return logs


# -----------------------------------------------------------------------------
# Gradients of several objectives from one forward pass (the authors' update)

def gradients(objectives, wrt):
    """`objectives()` returns (losses, extra): one loss per list of variables in
    `wrt`. Returns (losses, extra, grads), grads[i] the gradient of losses[i]
    with respect to wrt[i], all from the one forward pass (the same dropout masks)."""
    return {"tensorflow": _tf_gradients, "jax": _jax_gradients, "torch": _torch_gradients}[name()](objectives, wrt)


def _tf_gradients(objectives, wrt):
    import tensorflow as tf
    with tf.GradientTape(persistent=True) as tape:
        losses, extra = objectives()
    return losses, extra, [tape.gradient(loss, variables) for loss, variables in zip(losses, wrt)]


def _torch_gradients(objectives, wrt):
    import torch
    losses, extra = objectives()
    grads = [torch.autograd.grad(loss, [v.value for v in variables], retain_graph=True)
             for loss, variables in zip(losses, wrt)]
    return [loss.detach() for loss in losses], extra, grads


def _jax_gradients(objectives, wrt):
    """jax.vjp of the objectives as a function of the variables' values, in a
    StatelessScope of every variable of the step being traced (a variable read
    outside it would be a constant); what the pass assigns (dropout's seeds)
    is assigned again in the step's own scope."""
    import jax
    import keras
    flat = [v for variables in wrt for v in variables]
    others = [v for v in TRACING[-1] if all(v is not w for w in flat)] if TRACING else []  # [] eagerly
    other_values = [v.value for v in others]

    def f(values):
        mapping = list(zip(flat, values)) + list(zip(others, other_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses, extra = objectives()
        return tuple(losses), (extra, [scope.get_current_value(v) for v in others])

    losses, vjp, (extra, updated) = jax.vjp(f, [v.value for v in flat], has_aux=True)
    for v, value in zip(others, updated):
        v.assign(value)
    grads, start = [], 0
    for i, variables in enumerate(wrt):
        cotangent = tuple(keras.ops.ones_like(loss) if j == i else keras.ops.zeros_like(loss)
                          for j, loss in enumerate(losses))
        (all_grads,) = vjp(cotangent)
        grads.append(all_grads[start:start + len(variables)])
        start += len(variables)
    return list(losses), extra, grads


# -----------------------------------------------------------------------------
# Seeding

def set_random_seed(seed):
    """keras.utils.set_random_seed, which also imports TensorFlow to seed it
    whenever it is installed: on JAX and torch that costs seconds, and with torch
    a TensorFlow loaded beside it can crash the process. Elsewhere the same steps:
    Keras's global seed (initial weights), Python's, NumPy's, torch's."""
    keras = _keras()
    if name() == "tensorflow":
        return keras.utils.set_random_seed(seed)
    import random

    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if name() == "torch":
        import torch
        torch.manual_seed(seed)
