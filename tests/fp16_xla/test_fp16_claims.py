"""Lesson 05's claim checks: each passes on a good result and raises ``ClaimFailed`` (naming the
claim) on a result that breaks what the notebook says; fake results, no training."""

import copy

import pytest

from lessons import fp16_xla as fx
from lessons._core.claims import ClaimFailed


def _rows(zero, nonfinite=None, output_kernel=1.0, elsewhere=0.0):
    scales = (1.0, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8)
    nonfinite = nonfinite or [0.0] * 7 + [0.96]
    return [{"scale": s, "zero_share": z, "nonfinite_share": n, "median_rel_error": 0.01,
             "zero_share_by_variable": {"hidden_0/kernel": elsewhere, "logits/kernel": output_kernel}}
            for s, z, n in zip(scales, zero, nonfinite, strict=True)]


GOOD_ZEROS = [0.99, 0.40, 0.066, 0.028, 0.02, 0.0192, 0.0192, 0.0192]
GOOD_DYNAMIC = [{"scales": [2.0**15] * 12, "skipped": 0, "final_scale": 2.0**15, "zero_share": 0.022},
                {"scales": [2.0**30] * 12, "skipped": 6, "final_scale": 2.0**24, "zero_share": 0.019}]
GOOD_MAGS = {"share_below_1e-8": 0.99, "share_flushing_fp16": 0.991, "shrink_per_layer": 0.1,
             "last_hidden_median": 3e-9, "last_hidden_zero_share_fp16": 1.0}


def _with(base, **changes):
    return {**base, **changes}


@pytest.mark.parametrize("claims, bad, match", [
    (lambda m: fx.check_gradient_claims(m), {"share_below_1e-8": 0.6}, "below 1e-8"),
    (lambda m: fx.check_gradient_claims(m), {"share_flushing_fp16": 0.2}, "flush most"),
    (lambda m: fx.check_gradient_claims(m), {"shrink_per_layer": 0.5},  # only 2x per layer
     "tenfold"),
    (lambda m: fx.check_output_kernel_claims(_rows(GOOD_ZEROS), m), {"last_hidden_median": 1e-6},
     "between 1e-9 and 1e-8"),
    (lambda m: fx.check_output_kernel_claims(_rows(GOOD_ZEROS), m),
     {"last_hidden_zero_share_fp16": 0.3}, "FP16 forward pass"),
])
def test_gradient_and_output_kernel_claims_hold_or_fail(claims, bad, match, capsys):
    claims(GOOD_MAGS)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("holds: ") for line in lines)
    assert not any(str(v) in line for line in lines for v in GOOD_MAGS.values())  # no digits
    with pytest.raises(ClaimFailed, match=match):
        claims(_with(GOOD_MAGS, **bad))


def test_output_kernel_claims_fail_when_zeros_are_elsewhere():
    fx.check_output_kernel_claims(_rows(GOOD_ZEROS), GOOD_MAGS)
    with pytest.raises(ClaimFailed, match="output kernel"):
        fx.check_output_kernel_claims(_rows(GOOD_ZEROS, output_kernel=0.5), GOOD_MAGS)
    with pytest.raises(ClaimFailed, match="every other variable"):
        fx.check_output_kernel_claims(_rows(GOOD_ZEROS, elsewhere=0.2), GOOD_MAGS)


@pytest.mark.parametrize("sweep_edit, dynamic_edit, match", [
    ({0: 0.5}, {}, "without scaling"),
    ({1: 0.8}, {}, "x100"),
    ({2: 0.3}, {}, "x1e3 to x1e7"),
    ({5: 0.0, 6: 0.0, 7: 0.0}, {}, "stay zero"),
    ({}, {0: {"skipped": 2}}, "skips no step"),
    ({}, {0: {"final_scale": 2.0**16}}, "stays at 2"),
    # the corrected item-11 statement: dynamic within a point of the best static scale
    ({}, {0: {"zero_share": 0.05}}, "at most 1 point"),
    ({}, {1: {"skipped": 0}}, "halves its way down"),
    ({}, {1: {"final_scale": 2.0**30}}, "settles"),
])
def test_scaling_claims_hold_or_fail(sweep_edit, dynamic_edit, match):
    fx.check_scaling_claims(_rows(GOOD_ZEROS), GOOD_DYNAMIC)
    zeros = [sweep_edit.get(i, z) for i, z in enumerate(GOOD_ZEROS)]
    dynamic = [_with(d, **dynamic_edit.get(i, {})) for i, d in enumerate(GOOD_DYNAMIC)]
    with pytest.raises(ClaimFailed, match=match):
        fx.check_scaling_claims(_rows(zeros), dynamic)


def test_scaling_claims_fail_on_overflow_where_none_is_said():
    with pytest.raises(ClaimFailed, match="no scale up to"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS, [0.0] * 6 + [0.1, 0.96]), GOOD_DYNAMIC)
    with pytest.raises(ClaimFailed, match="x1e8 overflows"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS, [0.0] * 8), GOOD_DYNAMIC)
    with pytest.raises(ValueError, match="sweep must include"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS)[:3], GOOD_DYNAMIC)
    with pytest.raises(ValueError, match="dynamics"):
        fx.check_scaling_claims(_rows(GOOD_ZEROS), GOOD_DYNAMIC[:1])


@pytest.mark.parametrize("bad, match", [({"no_epsilon": 1e-3}, "without epsilon"),
                                        ({"epsilon_divided": 1e-2}, "epsilon / c"),
                                        ({"tiny_gradients": 2.0}, "many times over")])
def test_adam_claims_hold_or_fail(bad, match):
    good = {"no_epsilon": 0.0, "epsilon_divided": 0.0, "tiny_gradients": 159.0}
    fx.check_adam_claims(good)
    with pytest.raises(ClaimFailed, match=match):
        fx.check_adam_claims(_with(good, **bad))


def test_verdict_claims_hold_on_the_stored_results_and_fail_on_a_changed_one(capsys):
    stored = fx.stored_results()
    fx.check_verdict_claims(stored)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and all(line.startswith("holds: ") for line in lines)
    for config, value, match in (("xla", 1.0, "jit_compile=True"), ("mixed+xla", 1.5, "stack"),
                                 ("fp16", 1.0, "FP16 is slow"),
                                 ("autojit-fusible", 1.3, "fusible")):
        changed = copy.deepcopy(stored)
        small = next(r for r in changed if r["size"] == "small")
        next(run for run in small["runs"] if run["config"] == config)["speedup"] = value
        with pytest.raises(ClaimFailed, match=match):
            fx.check_verdict_claims(changed)
    with pytest.raises(ValueError, match="small and tiny"):
        fx.check_verdict_claims([r for r in stored if r["size"] != "tiny"])
