"""Lesson 01: AdaX vs Adam, and the step-dependent beta2_hat behind both.

Post: https://kexue.fm/archives/7387. Both optimizers' bias-corrected second moment is a moving
average ``v_hat_t = beta2_hat_t v_hat_{t-1} + (1 - beta2_hat_t) g_t^2`` with a step-dependent ``beta2_hat_t``:

    Adam       beta2_hat_t = b2 (1 - b2^(t-1)) / (1 - b2^t)    0 at t = 1, -> b2
    AdaX       beta2_hat_t = 1 - b2 / ((1 + b2)^t - 1)         0 at t = 1, -> 1
    Adafactor  beta2_hat_t = 1 - t^(-c)                        0 at t = 1, -> 1

``AdaX`` keeps ``v_hat`` itself as its state and updates it in that moving-average form, so it never
forms ``(1 + b2)^t``, which overflows float32 near step 887,000 (and ``v`` with it).

Modules: ``optimizer`` (AdaX only), ``analysis`` (beta2_hat, departure, freeze, overflow, the
post's criterion, v-hat both ways; float64 NumPy), ``one_step`` (one AdaX update from a chosen
state), ``experiments`` (digits training, `SecondMomentTrace`), ``claims`` (the lesson's claim
checks) and ``views`` (tables, figures, the schedule explorer).
"""

from lessons.adax import analysis, claims, experiments, one_step, optimizer, views
from lessons.adax.analysis import *  # noqa: F403
from lessons.adax.claims import *  # noqa: F403
from lessons.adax.experiments import *  # noqa: F403
from lessons.adax.one_step import *  # noqa: F403
from lessons.adax.optimizer import *  # noqa: F403
from lessons.adax.views import *  # noqa: F403

# the lesson exports exactly the names each submodule lists in its __all__
__all__ = [
    *claims.__all__, *experiments.__all__, *one_step.__all__, *optimizer.__all__, *analysis.__all__,
    *views.__all__,
]
