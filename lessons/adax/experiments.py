"""Adam, AdaX and Adafactor on scikit-learn's digits, with v-hat of one weight traced per step.

The trace records v-hat and ``lr / sqrt(v_hat)`` of one weight after every step: the learning
rate Adam's and AdaX's divisor gives that weight. It is not the step Adafactor takes (that is
further scaled by max(1e-3, RMS(w)) and clipped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from lessons._core.checks import integer, number, one_of
from lessons._core.notebook import course_seed, keras_progress, progress_disabled
from lessons.adax.analysis import RULES, check_param
from lessons.adax.optimizer import AdaX

__all__ = [
    "ADAFACTOR_EPSILON_1", "LESSON_SETTINGS", "LOSS", "DigitsComparison", "Run", "RunScores",
    "SecondMomentTrace", "check_trace_gets_gradient", "compare_on_digits", "digits_mlp",
    "digits_split", "make_optimizer", "second_moment_of", "summarize_digits", "train_digits",
    "vhat_by_optimizer", "vhat_change",
]

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
ADAFACTOR_EPSILON_1 = 1e-15  # Keras's default 1e-30 can turn a whole kernel NaN (make_optimizer)
LESSON_SETTINGS = (("adam", 1e-3), ("adax", 1e-3), ("adafactor", 1e-3), ("adafactor", 1e-2))


def digits_mlp(hidden: int = 32, seed: int | None = None) -> keras.Model:
    """A 64 -> hidden (relu) -> 10 logits classifier for 8x8 digits.

    Args:
        hidden: hidden units, >= 1 (default 32).
        seed: seed of the Glorot initialisers (default None: the course seed).
    """
    hidden = integer("hidden", hidden)
    seed = course_seed(seed)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(hidden, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    logits = keras.layers.Dense(10, name="logits",
                                kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(h)
    return keras.Model(inputs, logits, name="digits_mlp")


def make_optimizer(rule: str, learning_rate: float = 1e-3, param: float | None = None):
    """Keras Adam, our AdaX, or Keras Adafactor.

    Args:
        rule: "adam", "adax" or "adafactor".
        learning_rate: > 0 (default 1e-3).
        param: beta_2 for Adam / AdaX, the decay exponent c for Adafactor (Keras's
            ``beta_2_decay = -c``); None (default) takes ``DEFAULTS[rule]`` (0.999, 1e-4, 0.8).

    Adafactor gets ``epsilon_1 = ADAFACTOR_EPSILON_1`` (1e-15) instead of Keras's 1e-30: Keras
    forms a matrix's factored v-hat as ``(r_i / mean(r)) c_j`` with ``r, c`` moving averages of
    ``g^2 + epsilon_1``; where a gradient row and a gradient column are both all zero (on digits:
    a pixel that is 0 in the whole batch, a hidden unit inactive on the whole batch) that is
    ``1e-30 * 1e-30 / mean(r)``, which underflows float32 to 0, so ``u = 0 / 0 = NaN`` enters
    RMS(u) and the whole kernel turns NaN at step 1 (course seed 1 does this; on our CPU ReLU
    then outputs 0, so the loss stays finite near ln 10 and nothing warns). With 1e-15 the product
    stays a normal float32.
    """
    one_of("rule", rule, RULES)
    learning_rate = number("learning_rate", learning_rate, low=0.0, low_open=True)
    param = check_param(rule, param)
    if rule == "adam":
        return keras.optimizers.Adam(learning_rate, beta_2=param)
    if rule == "adax":
        return AdaX(learning_rate, beta_2=param)
    return keras.optimizers.Adafactor(learning_rate, beta_2_decay=-param,
                                      epsilon_1=ADAFACTOR_EPSILON_1)


def second_moment_of(optimizer, variable) -> np.ndarray:
    """The bias-corrected second moment v-hat the optimizer currently holds for ``variable``.

    Keras's Adam stores the raw v (v-hat = v / (1 - b2^t)); its Adafactor stores v-hat directly
    (no correction needed since beta2_hat_1 = 0); for a variable of rank >= 2 it is the factored estimate.
    """
    index = optimizer._get_variable_index(variable)
    if isinstance(optimizer, AdaX):
        return optimizer.second_moment(variable).numpy()
    if isinstance(optimizer, keras.optimizers.Adam):
        t = int(optimizer.iterations.numpy())
        return optimizer._velocities[index].numpy() / -math.expm1(t * math.log(optimizer.beta_2))
    if isinstance(optimizer, keras.optimizers.Adafactor):
        return optimizer._v[index].numpy()
    raise ValueError(f"optimizer must be Adam, AdaX or Adafactor, got {type(optimizer).__name__}")


def vhat_by_optimizer(rule: str, grads, param: float | None = None) -> np.ndarray:
    """The v-hat that Keras's ``Adam`` or our ``AdaX`` holds after each gradient of ``grads``.

    One float32 variable of shape ``grads.shape[1:]`` gets one ``apply_gradients`` per row of
    ``grads``; after each, `second_moment_of` reads the optimizer's v-hat (Adam: its stored v
    divided by ``1 - beta_2^t``). Compare with `vhat_moving_average` (float64).

    Args:
        rule: "adam" or "adax".
        grads: finite gradients, shape [steps, ...] with steps >= 1.
        param: beta_2; None (default) takes ``DEFAULTS[rule]`` (0.999, 1e-4).
    Returns:
        v-hat after every step, float64 array of shape [steps, ...].
    """
    one_of("rule", rule, ("adam", "adax"))
    g = np.asarray(grads, np.float64)
    if g.ndim < 1 or g.shape[0] < 1 or not np.all(np.isfinite(g)):
        raise ValueError("grads must be a finite array of shape [steps, ...] with steps >= 1")
    variable = keras.Variable(np.zeros(g.shape[1:], np.float32), name="w")
    optimizer = make_optimizer(rule, param=param)
    optimizer.build([variable])
    out = []
    for g_t in g.astype(np.float32):
        optimizer.apply_gradients([(g_t, variable)])
        out.append(second_moment_of(optimizer, variable))
    return np.asarray(out, np.float64)


class SecondMomentTrace(keras.callbacks.Callback):
    """Record v-hat and lr / sqrt(v-hat) of one weight after each step.

    Pass it to `train_digits` (``trace=``) or to any ``model.fit(callbacks=[...])``.

    Args:
        layer: name of the layer holding the weight (default "logits").
        attribute: the layer's variable attribute (default "bias").
        index: the weight inside that variable: a flat index or a tuple such as ``(28, 5)`` for
            ``kernel[28, 5]`` (default 0).
    """

    def __init__(self, layer: str = "logits", attribute: str = "bias", index: int | tuple = 0):
        super().__init__()
        try:
            flat = (index,) if isinstance(index, int | np.integer) else tuple(index)
        except TypeError:
            flat = ()
        if not flat or any(isinstance(i, bool) or not isinstance(i, int | np.integer) or i < 0
                           for i in flat):
            raise ValueError(f"index must be an int >= 0 or a tuple of them, got {index!r}")
        self.layer, self.attribute, self.index = layer, attribute, index
        self.steps, self.v_hat, self.learning_rate = [], [], []

    def variable(self, model):
        """The watched variable of ``model``; ValueError if the layer or attribute is missing."""
        try:
            layer = model.get_layer(self.layer)
        except ValueError:
            names = [layer.name for layer in model.layers]
            raise ValueError(f"layer must be one of {names}, got {self.layer!r}") from None
        variable = getattr(layer, self.attribute, None)
        if not isinstance(variable, keras.Variable):
            raise ValueError(f"attribute must name a variable of layer {self.layer!r} "
                             f"(e.g. 'kernel', 'bias'), got {self.attribute!r}")
        return variable

    def flat_index(self, model) -> int:
        """``index`` as a flat index into the variable; ValueError if it is out of range."""
        shape = tuple(self.variable(model).shape)
        size = math.prod(shape)
        if isinstance(self.index, int | np.integer):
            if not self.index < size:
                raise ValueError(f"index must be < {size} for {self.layer}.{self.attribute} "
                                 f"of shape {shape}, got {self.index}")
            return int(self.index)
        if len(self.index) != len(shape) or any(i >= n for i, n in zip(self.index, shape,
                                                                          strict=True)):
            raise ValueError(f"index must fit the shape {shape} of {self.layer}.{self.attribute}, "
                             f"got {self.index}")
        return int(np.ravel_multi_index(self.index, shape))

    def on_train_begin(self, logs=None):
        self._flat = self.flat_index(self.model)

    def on_train_batch_end(self, batch, logs=None):
        optimizer = self.model.optimizer
        variable = self.variable(self.model)
        flat = getattr(self, "_flat", None)
        flat = self.flat_index(self.model) if flat is None else flat
        self.steps.append(int(optimizer.iterations.numpy()))
        self.v_hat.append(float(second_moment_of(optimizer, variable).ravel()[flat]))
        self.learning_rate.append(float(ops.convert_to_numpy(optimizer.learning_rate)))

    def on_train_end(self, logs=None):
        values = ops.convert_to_numpy(self.variable(self.model))
        self.rms_last = float(np.sqrt(np.mean(np.square(values, dtype=np.float64))))

    def result(self) -> dict[str, np.ndarray]:
        """``steps``, ``v_hat`` and ``lr_over_sqrt_v_hat``, one entry per step, and ``rms_last``,
        the RMS of the traced variable after training (NaN if not trained yet).

        ``lr_over_sqrt_v_hat`` is the learning rate Adam's and AdaX's divisor gives the weight; it
        is not the step Adafactor takes (that is further scaled by max(1e-3, RMS(w)) and clipped).
        """
        v_hat = np.asarray(self.v_hat)
        with np.errstate(divide="ignore"):
            lr_over_sqrt_v_hat = np.asarray(self.learning_rate) / np.sqrt(v_hat)
        return {"steps": np.asarray(self.steps), "v_hat": v_hat,
                "lr_over_sqrt_v_hat": lr_over_sqrt_v_hat,
                "rms_last": getattr(self, "rms_last", math.nan)}


def check_trace_gets_gradient(model, trace: SecondMomentTrace, x, y) -> None:
    """Raise ValueError if the traced weight's gradient is 0 on every example of (x, y).

    Such a weight never moves: its v-hat stays 0 and lr / sqrt(v-hat) is inf. In ``digits_mlp``,
    ``hidden.kernel[i, j]`` is fed by pixel i, and pixels 0, 32 and 39 are 0 in all 1,797 images.
    """
    import tensorflow as tf

    variable = trace.variable(model)
    flat = trace.flat_index(model)
    with tf.GradientTape() as tape:
        loss = LOSS(y, model(x, training=False))
    grad = np.abs(ops.convert_to_numpy(tape.gradient(loss, variable))).ravel()
    if grad[flat] != 0.0:
        return
    where = np.unravel_index(flat, tuple(variable.shape))
    best = np.unravel_index(int(np.argmax(grad)), tuple(variable.shape))
    hint = ""
    if trace.layer == "hidden" and trace.attribute == "kernel":
        pixel = int(where[0])
        hint = (f" (its input, pixel {pixel}, is 0 in every training image)"
                if not np.any(np.asarray(x)[:, pixel]) else
                f" (hidden unit {int(where[1])} is inactive on every training image)")
    raise ValueError(
        f"index {trace.index!r} of {trace.layer}.{trace.attribute} gets no gradient{hint}: "
        f"its v-hat would stay 0 and lr/sqrt(v-hat) be inf; pick a weight that learns, "
        f"e.g. index {tuple(int(i) for i in best)}")


@dataclass
class Run:
    """One optimizer's training run on digits: loss per epoch, held-out scores, per-step trace."""

    rule: str
    learning_rate: float
    loss: np.ndarray  # [epochs] training loss
    val_loss: float  # after the last epoch
    val_accuracy: float
    trace: dict[str, np.ndarray]  # SecondMomentTrace.result(): steps, v_hat, lr_over_sqrt_v_hat
    param: float | None = None  # beta_2 (Adam, AdaX) or c (Adafactor); None: the default


def digits_split(val_fraction: float = 0.2, seed: int | None = None):
    """scikit-learn digits in [0, 1], shuffled and split into train / validation.

    Args:
        val_fraction: held-out share in (0, 1) (default 0.2: 359 of 1,797).
        seed: seed of the shuffle (default None: the course seed).
    """
    from lessons._core.data import load_digits

    number("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    x, y = load_digits()
    order = np.random.default_rng(course_seed(seed)).permutation(len(x))
    n_val = round(len(x) * val_fraction)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def _bars_wanted(progress: bool) -> bool:
    """``progress`` unless ``TQDM_DISABLE`` is set (a stored notebook keeps no bar's 0% frame)."""
    return bool(progress) and not progress_disabled()


def train_digits(rule: str, epochs: int = 15, batch_size: int = 32, learning_rate: float = 1e-3,
                 seed: int | None = None, progress: bool = True, param: float | None = None,
                 trace: SecondMomentTrace | None = None, callbacks=()) -> Run:
    """Train ``digits_mlp`` with one optimizer, tracing v-hat of one weight at every step.

    Args:
        rule: "adam", "adax" or "adafactor".
        epochs: >= 1 (default 15).
        batch_size: >= 1 (default 32).
        learning_rate: > 0 (default 1e-3).
        seed: seeds the initialisers, the split and the shuffling (default None: the course seed).
        progress: show a tqdm bar over epochs (default True).
        param: beta_2 (Adam, AdaX) or c (Adafactor); None (default) takes ``DEFAULTS[rule]``.
        trace: the `SecondMomentTrace` to record (default None: the bias of output class 0); a
            weight that gets no gradient on the training data is refused with a ValueError.
        callbacks: more Keras callbacks for ``fit`` (default none).
    """
    epochs, batch_size = integer("epochs", epochs), integer("batch_size", batch_size)
    optimizer = make_optimizer(rule, learning_rate, param)
    seed = course_seed(seed)
    keras.utils.set_random_seed(seed)  # fit's shuffling draws from TensorFlow's global seed
    (x, y), (x_val, y_val) = digits_split(seed=seed)
    model = digits_mlp(seed=seed)
    # no XLA: compiling each small model costs seconds, more than its 675 steps take without it
    model.compile(optimizer=optimizer, metrics=["accuracy"], loss=LOSS, jit_compile=False)
    trace = SecondMomentTrace() if trace is None else trace
    check_trace_gets_gradient(model, trace, x, y)
    bars = [keras_progress(epochs, desc=rule)] if _bars_wanted(progress) else []
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[trace, *bars, *callbacks])
    logits = model(x_val, training=False)  # eagerly: evaluate() would trace another graph
    val_loss = float(ops.convert_to_numpy(LOSS(y_val, logits)))
    val_accuracy = float(np.mean(np.argmax(ops.convert_to_numpy(logits), axis=1) == y_val))
    return Run(rule, learning_rate, np.asarray(history.history["loss"]), val_loss, val_accuracy,
               trace.result(), param)


def compare_on_digits(settings=LESSON_SETTINGS, epochs: int = 15, batch_size: int = 32,
                      seed: int | None = None, progress: bool = True) -> list[Run]:
    """``train_digits`` once per (rule, learning_rate) pair, same model, data order and seed.

    Args:
        settings: (rule, learning_rate) pairs (default ``LESSON_SETTINGS``: Adam, AdaX and
            Adafactor at 1e-3, Adafactor at 1e-2).
        epochs, batch_size, progress: as for `train_digits` (defaults 15, 32, True).
        seed: default None: the course seed.
    """
    seed = course_seed(seed)
    return [train_digits(rule, epochs, batch_size, learning_rate, seed, progress)
            for rule, learning_rate in settings]


def vhat_change(trace: dict, start: int, stop: int) -> float:
    """Relative change ``|v_hat_stop / v_hat_start - 1|`` of a trace between two 1-based steps.

    Args:
        trace: a `SecondMomentTrace.result()` (or ``Run.trace``).
        start, stop: steps present in ``trace["steps"]``, start < stop.
    """
    steps = list(np.asarray(trace["steps"]))
    if not (start in steps and stop in steps and start < stop):
        raise ValueError(f"start < stop must both be traced steps (1..{len(steps)}), "
                         f"got {start}, {stop}")
    v = np.asarray(trace["v_hat"])
    return float(abs(v[steps.index(stop)] / v[steps.index(start)] - 1.0))


@dataclass(frozen=True)
class RunScores:
    """The numbers the lesson reads off one `Run`."""

    rule: str
    learning_rate: float
    train_loss: float  # after the last epoch
    val_loss: float
    val_accuracy: float
    lr_over_sqrt_v_hat_at_100: float  # of the traced weight at step 100 (NaN if fewer steps)
    lr_over_sqrt_v_hat_last: float  # ... at the last step
    steps: int
    traced_rms: float = math.nan  # RMS of the traced variable after training

    @property
    def rise(self) -> float:
        """How much lr / sqrt(v_hat) grew from step 100 to the last step (a ratio)."""
        return self.lr_over_sqrt_v_hat_last / self.lr_over_sqrt_v_hat_at_100


@dataclass(frozen=True)
class DigitsComparison:
    """`RunScores` of several runs (`summarize_digits`); `claims.digits_claims` reads them."""

    runs: tuple[RunScores, ...]

    def get(self, rule: str, learning_rate: float) -> RunScores:
        """The scores of the run with this optimizer and learning rate; ValueError if none."""
        for run in self.runs:
            if run.rule == rule and math.isclose(run.learning_rate, learning_rate):
                return run
        have = [(r.rule, r.learning_rate) for r in self.runs]
        raise ValueError(f"(rule, learning_rate) must be one of {have}, "
                         f"got {(rule, learning_rate)}")


def summarize_digits(runs: list[Run]) -> DigitsComparison:
    """The scores the lesson prints and checks, one `RunScores` per run."""
    if not runs:
        raise ValueError("runs must hold at least one Run")
    scores = []
    for run in runs:
        ratio = np.asarray(run.trace["lr_over_sqrt_v_hat"])
        at_100 = float(ratio[99]) if len(ratio) >= 100 else math.nan
        scores.append(RunScores(run.rule, run.learning_rate, float(run.loss[-1]), run.val_loss,
                                run.val_accuracy, at_100, float(ratio[-1]), len(ratio),
                                float(run.trace.get("rms_last", math.nan))))
    return DigitsComparison(tuple(scores))
