"""Keras's dynamic loss scale, driven by a chosen sequence of finite and non-finite steps.

:func:`keras_scale_trajectory` runs ``keras.optimizers.LossScaleOptimizer`` itself on a
one-entry variable whose gradient is 1 (finite) or inf (an overflow), so the notebook can set the
update rule, written in plain Python, beside Keras's own.
"""

from __future__ import annotations

import numpy as np

from lessons._core.checks import integer, number

__all__ = ["keras_scale_trajectory"]


def keras_scale_trajectory(finite, initial_scale: float = 2.0**15,
                           growth_steps: int = 2000) -> np.ndarray:
    """The scale ``LossScaleOptimizer`` uses at each step, given which steps' gradients are finite.

    Keras's rule: a non-finite gradient skips the update, halves the scale and resets the count
    of good steps; after ``growth_steps`` finite steps in a row the scale doubles.

    Args:
        finite: one bool per step (True: the scaled gradient is finite), at least one.
        initial_scale: the starting scale, >= 1 (default Keras's 2**15).
        growth_steps: finite steps in a row before the scale doubles, >= 1 (default Keras's 2000).

    Returns:
        float64 array, one entry per step: the scale that step's loss was multiplied by.
    """
    flags = list(np.asarray(finite, dtype=object).ravel())
    if not flags or not all(isinstance(f, bool | np.bool_) for f in flags):
        raise ValueError(f"finite must be a non-empty sequence of bools, got {finite!r}")
    number("initial_scale", initial_scale, low=1.0)
    integer("growth_steps", growth_steps, low=1)
    import keras

    var = keras.Variable(np.zeros(1, np.float32))
    opt = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.0), initial_scale=initial_scale, dynamic_growth_steps=growth_steps)
    opt.build([var])
    scales = []
    for ok in map(bool, flags):
        scales.append(float(opt.dynamic_scale.numpy()))
        grad = np.full(1, 1.0 if ok else np.inf, np.float32)
        opt.apply([keras.ops.convert_to_tensor(grad)], [var])
    return np.asarray(scales, np.float64)
