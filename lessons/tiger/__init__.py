"""Lesson 04: Tiger's weight-decay fixed point and the +-1/lambda embeddings (kexue.fm/archives/9736).

The post's eq. (1): ``m = beta m + (1 - beta) g`` and ``theta -= lr (sign(m) + lambda theta)``. A
token that is absent from the batch has ``g = 0`` but its momentum only decays, so ``sign(m)`` stays
+-1 until ``m`` underflows to zero; with a constant sign the iteration converges geometrically, at
rate ``1 - lr lambda`` per step, to the fixed point ``theta* = -sign(m) / lambda``. The Tiger the
author released (github.com/bojone/tiger, ``tiger.py``) scales the step by the RMS of each embedding
row (of each other tensor): same fixed point, reached along a logistic curve at rate ``lr``.

Modules: ``optimizer`` (``Tiger``, eq. (1), only), ``released`` (``ReleasedTiger``, the port of
``tiger.py``, only), ``analysis`` (fixed point, closed form, momentum underflow, the released
rule's logistic drift; float64 NumPy), ``experiments`` (one absent row under the real optimizers;
the next-character model on People's Daily), ``metrics`` (rare rows, once-seen band, summary,
verdicts, unigram loss), ``claims`` (the lesson's claim checks) and ``views`` (tables, figures,
the fixed-point explorer).
"""

from lessons.tiger import analysis, claims, experiments, metrics, optimizer, released, views
from lessons.tiger.analysis import *  # noqa: F403
from lessons.tiger.claims import *  # noqa: F403
from lessons.tiger.experiments import *  # noqa: F403
from lessons.tiger.metrics import *  # noqa: F403
from lessons.tiger.optimizer import *  # noqa: F403
from lessons.tiger.released import *  # noqa: F403
from lessons.tiger.views import *  # noqa: F403

# the lesson exports exactly the names each submodule lists in its __all__
__all__ = [
    *analysis.__all__, *claims.__all__, *experiments.__all__, *metrics.__all__, *optimizer.__all__,
    *released.__all__, *views.__all__,
]
