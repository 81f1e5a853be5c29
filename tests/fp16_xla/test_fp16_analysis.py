"""Lesson 05, number formats: limits from the bit layout against NumPy's and ml_dtypes' finfo,
rounding against NumPy, thresholds and scales by brute force."""

import math

import ml_dtypes
import numpy as np
import pytest

from lessons import fp16_xla as fx

FINFO = {"float16": np.finfo(np.float16), "bfloat16": ml_dtypes.finfo(ml_dtypes.bfloat16),
         "float32": np.finfo(np.float32)}


@pytest.mark.parametrize("dtype", list(fx.FORMATS))
def test_format_limits_match_numpy_and_ml_dtypes(dtype):
    limits, ref = fx.format_limits(dtype), FINFO[dtype]
    assert limits["max"] == float(ref.max)
    assert limits["smallest_normal"] == float(ref.smallest_normal)
    assert limits["smallest_subnormal"] == float(ref.smallest_subnormal)
    assert limits["eps"] == float(ref.eps)


def test_fp16_range_is_the_posts_6e_8_to_65504():
    limits = fx.format_limits("float16")
    assert limits["max"] == 65504.0
    assert limits["smallest_subnormal"] == 2.0**-24 and f"{limits['smallest_subnormal']:.0e}" == "6e-08"
    rows = {r["dtype"]: r for r in fx.precision_table()}
    assert [rows[d]["mantissa_bits"] for d in ("float16", "bfloat16", "float32")] == [10, 7, 23]
    # BF16 keeps FP32's exponent: same smallest normal, max within one BF16 rounding step
    assert rows["bfloat16"]["smallest_normal"] == rows["float32"]["smallest_normal"]
    assert rows["bfloat16"]["max"] < rows["float32"]["max"] < rows["bfloat16"]["max"] * (1 + 2**-7)


def test_cast_rounds_like_numpy_and_overflows_to_inf():
    x = np.array([1 / 3, 1e-5, 70000.0, -2.5e-8])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(fx.cast(x, "float16"),
                                      x.astype(np.float16).astype(np.float64))
    np.testing.assert_array_equal(fx.cast(x, "bfloat16"),
                                  x.astype(ml_dtypes.bfloat16).astype(np.float64))
    assert math.isinf(fx.cast(70000.0, "float16"))


@pytest.mark.parametrize("dtype", list(fx.FORMATS))
def test_underflow_threshold_is_the_last_value_flushing_to_zero(dtype):
    t = fx.underflow_threshold(dtype)
    assert fx.cast(t, dtype) == 0.0
    # the next representable input: float64 for FP16, float32 for formats cast from float32
    up = np.nextafter(t, np.inf) if dtype == "float16" else np.nextafter(np.float32(t), np.inf)
    assert fx.cast(up, dtype) > 0.0
    # brute force over 2,000 magnitudes across the threshold
    g = np.geomspace(t / 100, t * 100, 2000)
    np.testing.assert_array_equal(fx.cast(g, dtype) == 0.0, g <= t)


@pytest.mark.parametrize("g", [1e-9, 3e-12, 2.0**-30, 4e-6])
@pytest.mark.parametrize("normal", [False, True])
def test_min_scale_to_keep_is_minimal_by_brute_force(g, normal):
    s = fx.min_scale_to_keep(g, "float16", normal=normal)
    limits = fx.format_limits("float16")
    target = limits["smallest_normal"] if normal else limits["smallest_subnormal"]
    powers = [2.0**k for k in range(0, 60)]
    brute = next(p for p in powers if fx.cast(g * p, "float16") >= target)
    assert s == brute


def test_constant_report_mask_infinity_and_epsilon():
    rows = {(r["value"], r["dtype"]): r for r in fx.constant_report()}
    assert rows[1e12, "float16"]["verdict"] == "overflow"
    assert math.isfinite(rows[1e12, "bfloat16"]["stored"])
    assert rows[1e4, "float16"]["stored"] == 1e4  # the raised "infinity" fits
    eps16 = rows[1e-7, "float16"]
    assert eps16["verdict"] == "subnormal" and eps16["stored"] == 2 * 2.0**-24
    assert eps16["relative_error"] == pytest.approx((2 * 2.0**-24 - 1e-7) / 1e-7)
    assert rows[1e-8, "float16"]["verdict"] == "underflow"
    assert rows[1e-4, "float16"]["verdict"] == "exact-ish"
    # dividing by Keras's epsilon overflows FP16; by the raised one it does not
    assert math.isinf(fx.cast(1 / eps16["stored"], "float16"))
    assert math.isfinite(fx.cast(1 / rows[1e-4, "float16"]["stored"], "float16"))


def test_masked_logits_nan_share_matches_direct_numpy():
    # half the positions are kept; each kept one computes 0 * inf = NaN in FP16
    assert fx.masked_logits_nan_share(1e12, "float16") == 0.5
    assert fx.masked_logits_nan_share(1e4, "float16") == 0.0
    assert fx.masked_logits_nan_share(1e12, "bfloat16") == 0.0
    assert fx.masked_logits_nan_share(1e12, "float32") == 0.0
    with np.errstate(all="ignore"):
        direct = np.float16(0.0) * np.float16(1e12)
    assert np.isnan(direct)


@pytest.mark.parametrize("call, match", [
    (lambda: fx.format_limits("float8"), "dtype must be one of"),
    (lambda: fx.cast(1.0, "int8"), "dtype must be one of"),
    (lambda: fx.min_scale_to_keep(0.0), "gradient must be finite and non-zero"),
    (lambda: fx.min_scale_to_keep(math.inf), "gradient must be finite and non-zero"),
    (lambda: fx.constant_report(values=(-1.0,)), "values must be finite and positive"),
    (lambda: fx.masked_logits_nan_share(1e4, length=1), r"length must be an int in \[2, inf\)"),
    (lambda: fx.masked_logits_nan_share(0.0), "infinity must be > 0"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
