"""Lesson 01: one AdaX update from a chosen state (the "why AdaX stores v-hat" demo) and
epsilon's effect on the first step (Try it 4)."""

import math

import numpy as np
import pytest

from lessons import adax
from lessons._core.claims import ClaimFailed


def test_one_more_gradient_shows_moving_and_frozen_v_hat(capsys):
    demo = adax.one_more_gradient()
    np.testing.assert_array_equal(demo.steps, [100, 10_000, 100_000, 2_000_000])
    b2 = 1e-4
    for t, exact in zip(demo.steps, demo.v_hat_exact, strict=True):
        # the literal float64 rule: v_{t-1} = v_hat ((1 + b2)^(t-1) - 1), one step, divide back
        v = 0.25 * math.expm1((t - 1) * math.log1p(b2))
        v = (1 + b2) * v + b2 * 9.0
        assert exact == pytest.approx(v / math.expm1(t * math.log1p(b2)), rel=1e-12)
    # the notebook: a third at t = 100 (0.25 -> 0.337), 0.2% at 1e4, 1.6e-7 at 1e5, 0 at 2e6
    change = demo.v_hat_exact / 0.25 - 1
    assert demo.v_hat_exact[0] == pytest.approx(0.337, abs=5e-4) and 0.3 < change[0] < 0.37
    assert change[1] == pytest.approx(2.0e-3, abs=1e-4)
    assert change[2] == pytest.approx(1.6e-7, abs=0.05e-7)
    assert demo.v_hat_exact[-1] == 0.25 and demo.weight[-1] < 1e-90  # frozen at 2,000,000
    # ... and the update there is 1e-3 * 0.39 / (0.5 + 1e-6): momentum SGD, frozen scale
    theta, m, _ = adax.step_from_state(2_000_000, [1.0], [3.0], [0.1], [0.25])
    assert m[0] == pytest.approx(0.39, rel=1e-6)
    assert theta[0] == pytest.approx(1.0 - 1e-3 * 0.39 / (0.5 + 1e-6), rel=1e-7)
    np.testing.assert_allclose(demo.v_hat_adax, demo.v_hat_exact, rtol=1e-6)
    assert np.all(np.isfinite(demo.v_hat_literal_float32[:3]))
    assert np.isnan(demo.v_hat_literal_float32[3])  # inf / inf in float32
    adax.check_claims(demo)
    assert capsys.readouterr().out.startswith("holds: AdaX's float32 v_hat equals")
    table = adax.format_one_more_gradient(demo)
    assert "2,000,000" in table and "nan" in table


def test_one_more_gradient_claims_fail_on_violations():
    demo = adax.one_more_gradient(steps=(100, 2_000_000))
    off = adax.OneMoreGradient(**{**demo.__dict__, "v_hat_adax": demo.v_hat_exact * (1 + 1e-5)})
    with pytest.raises(ClaimFailed, match="equals the float64 rule"):
        adax.check_claims(off)
    finite = adax.OneMoreGradient(**{**demo.__dict__, "v_hat_literal_float32": demo.v_hat_exact})
    with pytest.raises(ClaimFailed, match="literal float32 rule"):
        adax.check_claims(finite)


def test_literal_float32_rule_is_wrong_from_the_overflow_step_on(capsys):
    demo = adax.one_more_gradient(steps=(887_125, 887_126))  # 0 at 887,126: finite / inf
    assert np.isfinite(demo.v_hat_literal_float32[0]) and demo.v_hat_literal_float32[1] == 0.0
    adax.check_claims(demo)
    assert "goes wrong" in capsys.readouterr().out


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"gradient": 0.5, "v_hat": 0.25}, "gradient"),  # g^2 = v_hat: nothing could move
    ({"v_hat": 0.0}, "v_hat"), ({"steps": [0]}, "t must"), ({"gradient": math.inf}, "gradient"),
])
def test_one_more_gradient_rejects_a_demo_that_cannot_show_anything(kwargs, name):
    with pytest.raises(ValueError, match=name):
        adax.one_more_gradient(**kwargs)


def test_try_it_4_epsilon_matters_below_its_own_size():
    effect = adax.epsilon_effect(1e-3)
    g = effect["gradient"]
    np.testing.assert_allclose(effect["adax"], g / (g + 1e-3), rtol=1e-5)
    assert effect["adax"][list(g).index(1e-3)] == pytest.approx(0.5, rel=1e-5)
    assert effect["inside_root"][list(g).index(1e-3)] == pytest.approx(0.0316, abs=1e-4)
    with pytest.raises(ValueError, match="gradient_sizes"):
        adax.epsilon_effect(1e-3, [0.0])
    with pytest.raises(ValueError, match="epsilon"):
        adax.epsilon_effect(-1.0)
