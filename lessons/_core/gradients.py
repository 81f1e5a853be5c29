"""What the course's optimizers share: the one form their ``update_step`` takes a gradient in."""

from __future__ import annotations

__all__ = ["dense_gradient"]


def dense_gradient(gradient, dtype):
    """``gradient`` as a dense tensor of ``dtype``; a ``tf.IndexedSlices`` (an ``Embedding``'s
    gradient) is made dense with the slices of a repeated id summed.

    Args:
        gradient: a tensor, array or ``tf.IndexedSlices``.
        dtype: the dtype to cast to, e.g. the variable's.
    """
    # Imported here: the lessons import this module before TensorFlow (which must start quietly).
    import tensorflow as tf
    from keras import ops

    if isinstance(gradient, tf.IndexedSlices):
        gradient = tf.convert_to_tensor(gradient)
    return ops.cast(gradient, dtype)
