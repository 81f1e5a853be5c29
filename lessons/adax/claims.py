"""What lesson 01 says about its float32 results, as claims with measured bands.

``check_claims(result)`` builds the claims for a result and checks them: each prints one stable
line (``holds: <statement> (<band>)``) and a statement that does not hold raises
``ClaimFailed``, naming it and the measured value (`lessons._core.claims`).
"""

from __future__ import annotations

import numpy as np

from lessons._core.claims import Claim, check
from lessons.adax.analysis import DEFAULTS, overflow_step
from lessons.adax.experiments import DigitsComparison, Run, summarize_digits
from lessons.adax.one_step import OneMoreGradient

__all__ = ["BANDS", "check_claims", "digits_claims", "one_more_gradient_claims"]

BANDS = {"adam_rise": 1.5, "adax_over_adam": (0.7, 0.95), "loss_gap": 0.10,
         "accuracy_gap": 0.02, "slow_loss": 1.0, "fast_accuracy": 0.93, "fast_rise": 3.0,
         "fast_bias_rms": 1e-3}


def digits_claims(comparison: DigitsComparison) -> list[Claim]:
    """The statements of lesson 01's digits section, with bands (``BANDS``) set from runs.

    Measured (notebook settings: 15 epochs, batch 32) under course seeds 0, 1, 2, 7 x {native
    AVX-512, ONEDNN_MAX_CPU_ISA=AVX2 with 1 thread, SSE41 with 1 thread} and seeds 3-6
    natively; the three CPUs agree to 2e-6 on every value. Spread (min .. max) -> band:
    Adam's rise 2.06 .. 2.26 -> >= 1.5; AdaX / Adam at the last step 0.835 .. 0.879 ->
    0.70 .. 0.95; loss gap 0.6% .. 4.8% -> <= 10%; accuracy gap 0 .. 0.56 points -> <= 2;
    Adafactor lr 1e-3 training loss 1.29 .. 1.52 -> >= 1.0 (Adam, AdaX: ~0.22);
    Adafactor lr 1e-2 accuracy 95.5% .. 98.1% -> >= 93%, its rise 5.45 .. 7.18 -> >= 3,
    its bias RMS 1.6e-4 .. 4.3e-4 -> <= 1e-3. A NaN kernel (Keras's default epsilon_1,
    seed 1) gives accuracy 8% and fails; an AdaX that behaved like Adam gives a ratio ~1.

    Args:
        comparison: a `DigitsComparison` holding Adam and AdaX at lr 1e-3 and Adafactor at
            1e-3 and 1e-2 (ValueError if one is missing).
    """
    adam, adax_run = comparison.get("adam", 1e-3), comparison.get("adax", 1e-3)
    slow, fast = comparison.get("adafactor", 1e-3), comparison.get("adafactor", 1e-2)
    return [
        Claim("Adam (lr 1e-3): lr/sqrt(v_hat) of the traced bias grows from step 100 to the "
              "last step", adam.rise, at_least=BANDS["adam_rise"], unit="x"),
        Claim("AdaX (lr 1e-3): its lr/sqrt(v_hat) ends below Adam's (ratio at the last step)",
              adax_run.lr_over_sqrt_v_hat_last / adam.lr_over_sqrt_v_hat_last,
              *BANDS["adax_over_adam"], unit="x"),
        Claim("Adam and AdaX: final training losses within 10% (|AdaX / Adam - 1|)",
              abs(adax_run.train_loss / adam.train_loss - 1.0),
              at_most=BANDS["loss_gap"], unit="%"),
        Claim("Adam and AdaX: held-out accuracies within 2 points (|difference|)",
              abs(adax_run.val_accuracy - adam.val_accuracy),
              at_most=BANDS["accuracy_gap"], unit="%"),
        Claim("Adafactor at lr 1e-3 trains slowly: final training loss",
              slow.train_loss, at_least=BANDS["slow_loss"]),
        Claim("Adafactor at lr 1e-2 trains: held-out accuracy", fast.val_accuracy,
              at_least=BANDS["fast_accuracy"], unit="%"),
        Claim("Adafactor at lr 1e-2: lr/sqrt(v_hat) grows from step 100 to the last step",
              fast.rise, at_least=BANDS["fast_rise"], unit="x"),
        Claim("Adafactor at lr 1e-2: the traced bias ends with RMS below 1e-3, so its steps "
              "are scaled by max(1e-3, RMS) = 1e-3", fast.traced_rms,
              at_most=BANDS["fast_bias_rms"], digits=4),
    ]


def one_more_gradient_claims(demo: OneMoreGradient) -> list[Claim]:
    """What the lesson says about the one-more-gradient table.

    Measured with the default steps (no seed enters) on native AVX-512 and with
    ONEDNN_MAX_CPU_ISA=AVX2 or SSE41 (one thread): AdaX's max relative error 0.040 ppm on
    all three (a float32 rounding is up to 0.06 ppm); the literal float32 rule NaN exactly
    at 2,000,000, the one step past 887,126. Bands: error <= 1 ppm, mismatched steps 0.

    Args:
        demo: a `OneMoreGradient` from `one_more_gradient`.
    """
    rel_error = np.max(np.abs(demo.v_hat_adax / demo.v_hat_exact - 1.0))
    literal = demo.v_hat_literal_float32
    with np.errstate(invalid="ignore"):
        broken = ~np.isfinite(literal) | ~(np.abs(literal / demo.v_hat_exact - 1.0) <= 1e-3)
    past_overflow = demo.steps >= overflow_step(DEFAULTS["adax"], "float32")
    return [
        Claim("AdaX's float32 v_hat equals the float64 rule at every step shown "
              "(max relative error, ppm)", 1e6 * rel_error, at_most=1.0, digits=1),
        Claim("the literal float32 rule goes wrong (NaN, or off by > 0.1%) exactly at the "
              "steps past its overflow (mismatched steps)", int(np.sum(broken != past_overflow)),
              at_most=0, digits=0),
    ]


def check_claims(result) -> None:
    """Check what the lesson says about ``result`` and print one stable line per claim.

    Args:
        result: the list of `Run` from `compare_on_digits` (or its `summarize_digits`), or a
            `OneMoreGradient`.
    Raises:
        lessons._core.claims.ClaimFailed: when a statement does not hold for these numbers.
    """
    if isinstance(result, list | tuple) and result and all(isinstance(r, Run) for r in result):
        result = summarize_digits(list(result))
    if isinstance(result, DigitsComparison):
        check(digits_claims(result))
    elif isinstance(result, OneMoreGradient):
        check(one_more_gradient_claims(result))
    else:
        raise ValueError(f"result must be a list of Run, a DigitsComparison or a "
                         f"OneMoreGradient, got {type(result).__name__}")
