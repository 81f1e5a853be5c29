"""Lesson 01: AdaX vs Adam, and the step-dependent beta2_hat behind both.

Post: https://kexue.fm/archives/7387. Both optimizers' bias-corrected second moment is a moving
average ``v_hat_t = beta2_hat_t v_hat_{t-1} + (1 - beta2_hat_t) g_t^2`` with a step-dependent ``beta2_hat_t``:

    Adam       beta2_hat_t = b2 (1 - b2^(t-1)) / (1 - b2^t)    0 at t = 1, -> b2
    AdaX       beta2_hat_t = 1 - b2 / ((1 + b2)^t - 1)         0 at t = 1, -> 1
    Adafactor  beta2_hat_t = 1 - t^(-c)                        0 at t = 1, -> 1

``AdaX`` keeps ``v_hat`` itself as its state and updates it in that moving-average form, so it never
forms ``(1 + b2)^t``, which overflows float32 near step 887,000 (and ``v`` with it).

Modules: ``optimizer`` (AdaX only), ``schedules`` (beta2_hat, departure, freeze, overflow, the
post's criterion, v-hat both ways; float64 NumPy), ``one_step`` (one AdaX update from a chosen
state), ``experiment`` (digits training, `SecondMomentTrace`), ``claims`` (the lesson's claim
checks) and ``views`` (tables, figures, the schedule explorer).
"""

from lessons.adax.claims import BANDS, check_claims, digits_claims, one_more_gradient_claims
from lessons.adax.experiment import (
    ADAFACTOR_EPSILON_1,
    LESSON_SETTINGS,
    LOSS,
    DigitsComparison,
    Run,
    RunScores,
    SecondMomentTrace,
    check_trace_gets_gradient,
    compare_on_digits,
    digits_mlp,
    digits_split,
    make_optimizer,
    second_moment_of,
    summarize_digits,
    train_digits,
    vhat_by_optimizer,
    vhat_change,
)
from lessons.adax.one_step import (
    OneMoreGradient,
    epsilon_effect,
    one_more_gradient,
    step_from_state,
)
from lessons.adax.optimizer import AdaX
from lessons.adax.schedules import (
    BETA2_HAT,
    DEFAULTS,
    RULES,
    Criterion,
    adax_departure_step,
    adax_freeze_step,
    beta2_hat_adafactor,
    beta2_hat_adam,
    beta2_hat_adax,
    check_criterion,
    later_gradient_share,
    new_gradient_weight,
    overflow_step,
    schedule_curves,
    vhat_both_ways,
    vhat_direct,
    vhat_moving_average,
)
from lessons.adax.views import (
    format_criteria,
    format_one_more_gradient,
    format_overflow_steps,
    format_runs,
    format_schedule_weights,
    format_vhat_both_ways,
    plot_runs,
    plot_schedules,
    schedule_explorer,
)

__all__ = [
    "ADAFACTOR_EPSILON_1", "BANDS", "BETA2_HAT", "DEFAULTS", "LESSON_SETTINGS", "LOSS", "RULES",
    "AdaX", "Criterion", "DigitsComparison", "OneMoreGradient", "Run", "RunScores",
    "SecondMomentTrace", "adax_departure_step", "adax_freeze_step", "beta2_hat_adafactor",
    "beta2_hat_adam", "beta2_hat_adax", "check_claims", "check_criterion",
    "check_trace_gets_gradient", "compare_on_digits", "digits_claims", "digits_mlp",
    "digits_split", "epsilon_effect", "format_criteria", "format_one_more_gradient",
    "format_overflow_steps", "format_runs", "format_schedule_weights", "format_vhat_both_ways",
    "later_gradient_share", "make_optimizer", "new_gradient_weight", "one_more_gradient",
    "one_more_gradient_claims", "overflow_step", "plot_runs", "plot_schedules",
    "schedule_curves", "schedule_explorer", "second_moment_of", "step_from_state",
    "summarize_digits", "train_digits", "vhat_both_ways", "vhat_by_optimizer",
    "vhat_change", "vhat_direct",
    "vhat_moving_average",
]
