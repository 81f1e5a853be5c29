"""Lesson 01: the beta2_hat schedules against closed forms, exact arithmetic and brute force;
departure and freeze steps; the post's criterion; v-hat computed both ways."""

import warnings
from decimal import Decimal, getcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lessons import adax


def test_schedules_match_naive_closed_forms_where_those_are_accurate():
    t = np.arange(1, 3001)
    np.testing.assert_allclose(adax.beta2_hat_adam(t, 0.99),
                               0.99 * (1 - 0.99 ** (t - 1)) / (1 - 0.99**t), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(adax.beta2_hat_adax(t, 1e-2),
                               1 - 1e-2 / ((1 + 1e-2) ** t - 1), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(adax.beta2_hat_adafactor(t, 0.8), 1 - t**-0.8,
                               rtol=1e-12, atol=1e-15)
    for rule, fn in adax.BETA2_HAT.items():
        b = fn(t)
        assert fn(1) == pytest.approx(0.0, abs=1e-15), rule  # beta2_hat_1 = 0: v_hat_1 = g_1^2
        assert np.all(np.diff(b) >= 0) and np.all((0 <= b) & (b <= 1)), rule


@pytest.mark.parametrize("t", [1, 2, 1_000, 100_000, 1_000_000, 7_000_000])
def test_adax_weight_against_exact_decimal_arithmetic(t):
    getcontext().prec = 60
    b2 = Decimal(1e-4)  # the float 1e-4, exactly
    exact = b2 / ((1 + b2) ** t - 1)
    assert adax.new_gradient_weight(t, "adax", 1e-4) == pytest.approx(float(exact), rel=1e-10)


def test_schedules_are_stable_at_ten_million_steps():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        assert adax.beta2_hat_adam(1e7) == pytest.approx(0.999, abs=1e-15)
        assert adax.beta2_hat_adax(1e7) == 1.0
        assert adax.new_gradient_weight(1e7, "adax") == 0.0
        assert adax.beta2_hat_adafactor(1e7) == pytest.approx(1 - 1e7**-0.8, abs=1e-15)
        assert adax.new_gradient_weight(1e7, "adafactor") == pytest.approx(1e7**-0.8, rel=1e-12)
        assert adax.new_gradient_weight(1e7, "adam") == pytest.approx(1e-3, rel=1e-12)


def test_schedules_are_vectorised_and_keep_shape():
    t = np.array([[1, 10], [100, 1000]])
    for fn in adax.BETA2_HAT.values():
        out = fn(t)
        assert out.shape == (2, 2)
        np.testing.assert_array_equal(out.ravel(), [fn(int(s)) for s in t.ravel()])
    assert np.ndim(adax.beta2_hat_adax(5)) == 0


@pytest.mark.parametrize("t", [0, -3, 1.5, np.nan, np.inf, [1, 0], True, "3"])
def test_schedules_reject_bad_steps(t):
    for fn in adax.BETA2_HAT.values():
        with pytest.raises(ValueError, match="t must be integer steps >= 1"):
            fn(t)


@pytest.mark.parametrize(("fn", "value", "name"), [
    (adax.beta2_hat_adam, 0.0, "beta_2"), (adax.beta2_hat_adam, 1.0, "beta_2"),
    (adax.beta2_hat_adax, 0.0, "beta_2"), (adax.beta2_hat_adax, -1.0, "beta_2"),
    (adax.beta2_hat_adafactor, 0.0, "c"), (adax.beta2_hat_adafactor, -0.8, "c"),
])
def test_schedules_reject_bad_parameters(fn, value, name):
    with pytest.raises(ValueError, match=name):
        fn(10, value)


def test_new_gradient_weight_rejects_unknown_rule():
    with pytest.raises(ValueError, match="rule"):
        adax.new_gradient_weight(3, "sgd")


@pytest.mark.parametrize("beta_2", [0.05, 1e-2, 1e-3, 1e-4])
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.9])
def test_departure_step_by_brute_force(beta_2, ratio):
    t = np.arange(1, int(6 / beta_2) + 10)
    tw = t * adax.new_gradient_weight(t, "adax", beta_2)
    want = int(t[np.argmax(tw <= ratio)])
    assert adax.adax_departure_step(beta_2, ratio) == want
    # before it AdaX's weight is within a factor `ratio` of the plain mean's 1/t
    assert np.all(tw[: want - 1] > ratio)


def test_departure_step_scales_like_one_over_beta_2():
    x = 1.2564  # x / (e^x - 1) = 1/2
    assert adax.adax_departure_step(1e-4, 0.5) == pytest.approx(x / 1e-4, rel=1e-3)
    assert adax.adax_departure_step(1e-6, 0.5) == pytest.approx(x / 1e-6, rel=1e-3)


@pytest.mark.parametrize("beta_2", [1e-4, 1e-2, 0.3])
def test_departure_formula_against_exact_float64_weights(beta_2):
    t = np.unique(np.round(np.logspace(0, np.log10(20 / beta_2), 200)))
    exact = t * adax.new_gradient_weight(t, "adax", beta_2)  # t b2 / expm1(t log1p(b2))
    x = t * np.log1p(beta_2)
    # the notebook's formula: t (1 - beta2_hat_t) = (b2 / ln(1 + b2)) x / (e^x - 1)
    np.testing.assert_allclose(exact, beta_2 / np.log1p(beta_2) * x / np.expm1(x), rtol=1e-12)
    if beta_2 >= 1e-2:  # without the factor b2 / ln(1 + b2) it is off by b2 / 2 and more
        assert np.min(np.abs(exact / (x / np.expm1(x)) - 1)) > 0.4 * beta_2


def test_departure_step_for_beta_2_1e_2_is_128_not_126():
    assert adax.adax_departure_step(1e-2) == 128
    assert round(1.2564 / 1e-2) == 126  # x* / b2, the value the factor-free formula suggests
    tw = np.array([t * adax.new_gradient_weight(t, "adax", 1e-2) for t in (126, 127, 128)])
    assert tw[0] > 0.5 and tw[1] > 0.5 and tw[2] <= 0.5


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.5, 2.0])
def test_departure_step_rejects_bad_ratio(ratio):
    with pytest.raises(ValueError, match="ratio"):
        adax.adax_departure_step(1e-4, ratio)


def _coefficients(t_read, beta_2):
    """Weights of g_1..g_T in v_hat_T from the recursion: w_k prod_{j > k} (1 - w_j)."""
    w = adax.new_gradient_weight(np.arange(1, t_read + 1), "adax", beta_2)
    tail = np.concatenate([np.cumprod((1 - w)[::-1])[::-1][1:], [1.0]])
    return w * tail


@pytest.mark.parametrize(("beta_2", "t_read"), [(1e-2, 178), (1e-2, 3_000), (0.2, 60)])
def test_later_gradient_share_against_the_recursion(beta_2, t_read):
    coef = _coefficients(t_read, beta_2)
    assert coef.sum() == pytest.approx(1.0, abs=1e-12)
    for after in (0, 1, t_read // 3, t_read - 1):
        want = coef[after:].sum()
        assert adax.later_gradient_share(after, beta_2, t_read) == pytest.approx(want, rel=1e-9)
        assert adax.later_gradient_share(after, beta_2) >= want - 1e-12  # the limit bounds all t
    assert adax.later_gradient_share(128, 1e-2, 178) == pytest.approx(0.1322, abs=1e-4)


@pytest.mark.parametrize(("beta_2", "share", "want"),
                         [(1e-4, 1e-4, 92_109), (1e-2, 1e-4, 926), (1e-2, 1e-2, 463)])
def test_freeze_step_by_definition(beta_2, share, want):
    t = adax.adax_freeze_step(beta_2, share)
    assert t == want
    assert adax.later_gradient_share(t, beta_2) <= share < adax.later_gradient_share(t - 1, beta_2)
    # read far later, the gradients after t weigh at most `share` (brute force for 1e-2)
    if beta_2 == 1e-2:
        assert _coefficients(5_000, beta_2)[t:].sum() <= share
        assert _coefficients(5_000, beta_2)[t - 1:].sum() > share
    assert t > adax.adax_departure_step(beta_2)  # departing is not yet being frozen
    if (beta_2, share) == (1e-4, 1e-4):  # the notebook: 1 - beta2_hat_t is about 1e-8 there, 7.3x later
        assert adax.new_gradient_weight(t, "adax", beta_2) == pytest.approx(1e-8, rel=1e-3)
        assert t / adax.adax_departure_step(beta_2) == pytest.approx(7.33, abs=0.01)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: adax.adax_freeze_step(1e-4, 0.0), "share"),
    (lambda: adax.adax_freeze_step(1e-4, 1.0), "share"),
    (lambda: adax.adax_freeze_step(0.0), "beta_2"),
    (lambda: adax.later_gradient_share(-1), "after"),
    (lambda: adax.later_gradient_share(2.5), "after"),
    (lambda: adax.later_gradient_share(10, 1e-4, 10), "t must"),
])
def test_freeze_helpers_reject_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_float32_power_minus_one_loses_about_four_digits_near_step_one():
    b2 = 1e-4
    naive = float(np.float32(1 + b2) ** np.float32(1) - np.float32(1))
    assert 1e-5 < abs(naive / b2 - 1) < 1e-3  # ~1.7e-4: only ~4 of float32's 7 digits survive


def test_overflow_step_rejects_bad_dtype():
    with pytest.raises(ValueError, match="dtype"):
        adax.overflow_step(1e-4, "float16")


def test_criterion_per_optimizer():
    adam, ax, af = (adax.check_criterion(r) for r in adax.RULES)
    assert adam.starts_at_zero and not adam.ends_at_one and not adam.holds
    assert adam.weight_last == pytest.approx(1 - 0.999, rel=1e-12)  # beta2_hat_inf = b2, not 1
    assert ax.holds and ax.b_first == pytest.approx(0, abs=1e-15) and ax.weight_last == 0.0
    assert af.holds and af.weight_last == pytest.approx(1e15**-0.8, rel=1e-12)
    # an Adam with beta_2 -> 1 passes the late check but is then slow from the very start
    assert adax.check_criterion("adam", 1 - 1e-7).ends_at_one
    with pytest.raises(ValueError, match="tol"):
        adax.check_criterion("adax", tol=0.0)


@settings(max_examples=40, deadline=None)
@given(
    grads=hnp.arrays(np.float64, st.tuples(st.integers(1, 60), st.integers(1, 3)),
                     elements=st.floats(-1e3, 1e3)),
    rule=st.sampled_from(["adam", "adax"]),
    u=st.floats(0.0, 1.0),
)
def test_direct_and_moving_average_vhat_agree(grads, rule, u):
    beta_2 = 0.5 + 0.4999 * u if rule == "adam" else 10 ** (-5 + 4.7 * u)  # (0.5, 1), (1e-5, 0.5)
    direct = adax.vhat_direct(grads, rule, beta_2)
    average = adax.vhat_moving_average(grads, rule, beta_2)
    scale = np.max(grads**2) + 1e-300
    np.testing.assert_allclose(direct, average, rtol=1e-9, atol=1e-12 * scale)


def test_moving_average_against_explicit_weighted_sum():
    g = np.random.default_rng(3).normal(size=(40,))
    t = np.arange(1, 41)
    for rule in adax.RULES:
        w = adax.new_gradient_weight(t, rule)
        # v_hat_T = sum_k w_k g_k^2 prod_{j > k} (1 - w_j); the coefficients sum to 1
        coef = np.array([w[k] * np.prod(1 - w[k + 1:]) for k in range(40)])
        assert coef.sum() == pytest.approx(1.0, abs=1e-12)
        assert adax.vhat_moving_average(g, rule)[-1] == pytest.approx(coef @ g**2, rel=1e-12)
    np.testing.assert_allclose(adax.vhat_moving_average(np.full((50, 2), 3.0), "adax"), 9.0)


def test_vhat_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="grads"):
        adax.vhat_direct([], "adax")
    with pytest.raises(ValueError, match="grads"):
        adax.vhat_moving_average([1.0, np.nan], "adam")
    with pytest.raises(ValueError, match="rule"):
        adax.vhat_direct([1.0], "adafactor")
    with pytest.raises(ValueError, match="beta_2"):
        adax.vhat_direct([1.0], "adam", 1.5)


def test_vhat_both_ways_agree_and_follow_the_course_seed():
    out = adax.vhat_both_ways(steps=50, scales=(1e-3, 1e3), seed=4)
    grads = np.random.default_rng(4).normal(size=(50, 2)) * np.array([1e-3, 1e3])
    np.testing.assert_array_equal(out["grads"], grads)
    t = np.arange(1, 51)
    for rule, b2 in (("adam", 0.999), ("adax", 1e-4)):
        assert out[rule]["agree"]
        # v_hat_50 as an explicit weighted sum of all g^2 (no recursion)
        if rule == "adam":
            coef = (1 - b2) * b2 ** (50 - t) / (1 - b2**50)
        else:
            coef = b2 * (1 + b2) ** (50 - t) / ((1 + b2) ** 50 - 1)
        np.testing.assert_allclose(out[rule]["direct"][-1], coef @ grads**2, rtol=1e-12)
        np.testing.assert_allclose(out[rule]["moving_average"][-1], coef @ grads**2, rtol=1e-12)
    # the flag can say False: at a tolerance below float64 rounding the two ways differ
    assert not adax.vhat_both_ways(steps=300, rtol=1e-17, seed=0)["adam"]["agree"]
    try:
        import lessons

        lessons.setup(7)
        seven = adax.vhat_both_ways(steps=5)["grads"]
    finally:
        lessons.setup(0)
    assert not np.array_equal(seven, adax.vhat_both_ways(steps=5)["grads"])
    np.testing.assert_array_equal(seven, adax.vhat_both_ways(steps=5, seed=7)["grads"])


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"steps": 0}, "steps"), ({"scales": [1.0, 0.0]}, "scales"), ({"scales": []}, "scales"),
    ({"rtol": 0.0}, "rtol"),
])
def test_vhat_both_ways_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        adax.vhat_both_ways(**kwargs)
