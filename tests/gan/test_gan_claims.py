"""Lesson 02's claim checks: each raises on a violating fake result and passes on a good one
(no training needed)."""

import numpy as np
import pytest
from gan_testing import fake_bench, fake_ring, fake_study

from lessons import gan
from lessons._core.claims import ClaimFailed
from lessons._core.data import load_digits


def _ok(result):
    assert all(claim.holds() for claim in gan.claims_for(result))
    gan.check_claims(result)  # prints the stable lines; raises if a claim fails


def _fails(result, words):
    with pytest.raises(ClaimFailed, match=words):
        gan.check_claims(result)


def test_zero_term_claims():
    _ok(gan.ZeroTerm(0.0, 0.0, 0.3))
    _fails(gan.ZeroTerm(1e-4, 0.0, 0.3), "value is 0")
    _fails(gan.ZeroTerm(0.0, 1e-3, 0.3), "for D's weights is 0")
    _fails(gan.ZeroTerm(0.0, 0.0, 0.0), "for G's weights is not 0")


def test_split_claims():
    good = dict(lams=(0.5, 1.0), value_diff=(0.0, 1e-8), rel_diff_d=(1e-6, 2e-5),
                rel_diff_g=(0.0, 1e-7))
    _ok(gan.SplitCheck(**good))
    _fails(gan.SplitCheck(**good | {"value_diff": (0.0, 1e-3)}), "value equals the D loss")
    _fails(gan.SplitCheck(**good | {"rel_diff_g": (0.0, 1e-4)}), "G's gradients agree")
    _fails(gan.SplitCheck(**good | {"rel_diff_d": (0.0, 1e-2)}), "D's gradients agree")


def _lam_table(rows, implementation="keras", scales=(1.0, 1e-8)):
    return gan.LamTable(2.0, 2, 0, implementation, scales, rows)


def test_lam_table_claims():
    formula = gan.lam_ratio_table(scales=(1.0, 1e-8), steps=2, seed=0,
                                  rows=[r for r in gan.LAM_TABLE_ROWS if r[1] in ("sgd", "adam")])
    _ok(formula)
    rows = dict(formula.rows)
    _ok(_lam_table(rows))  # Keras giving exactly the formula's ratios
    adam = rows["Adam, Keras 3"]
    _fails(_lam_table(rows | {"Adam, Keras 3": (adam[0], adam[1], (1.0, 1.5))}),
           "Keras 3's Adam gives the formula's ratios")
    _fails(_lam_table(rows | {"SGD": ("sgd", 0.9, (2.0, 1.0))}, "formula"), "SGD: G's step")
    _fails(_lam_table(rows | {"Adam, Keras 3": ("adam", 0.9, (1.3, adam[2][1]))}, "formula"),
           "lam cancels")
    _fails(_lam_table(rows | {"Adam, Keras 3": ("adam", 0.9, (1.0, 1.0))}, "formula"),
           "lam is back")


def _dirac(one_growth, alt_growth, steps=60, learning_rate=0.2):
    def path(growth):
        p = np.zeros((steps + 1, 2))
        p[:, 0] = 0.5 * np.geomspace(1.0, growth, steps + 1)
        return p
    return gan.DiracComparison({"one_step": path(one_growth), "alternating": path(alt_growth)},
                               learning_rate, 1.0)


def test_dirac_claims():
    _ok(_dirac(1.04**30, 1.05))
    _fails(_dirac(1.0, 1.05), "grows as the closed form")
    _fails(_dirac(1.04**30, 2.0), "stays on its orbit")


def test_ring_claims():
    _ok(fake_ring())
    _ok(fake_ring(one_modes=4, one_hq=0.05, alt_modes=6, alt_hq=0.5))  # the bands' edges
    _fails(fake_ring(one_modes=3), "single loss: modes covered")
    _fails(fake_ring(alt_modes=5), "alternating: modes covered")
    _fails(fake_ring(one_hq=0.04), "single loss: high-quality share")
    _fails(fake_ring(alt_hq=0.3), "alternating: high-quality share")


def test_seed_study_summary_and_claims():
    fake = fake_study()
    assert fake.seeds == [0, 1, 2, 3, 4]
    assert fake.summary("one_step")["full_at_end"] == 4
    assert fake.summary("one_step")["modes_min"] == 6
    assert fake.summary("one_step")["first_8"] == [1000, 1100, 900, None, 1200]
    assert fake.head_to_head() == {"alternating first": 5, "same step": 0,
                                   "single loss first": 0, "neither": 0}
    assert fake.run("alternating", 2).first_step_with(8) == 600
    _ok(fake)
    # near the bands' edges: alternating first on 4 of 5 = 80%, single loss with 8 modes at the
    # end on 3 of 5, worst seeds 1 mode and 0.25 apart, median gap 0.13
    _ok(fake_study(first_alt=(700, 800, 600, 750, 1300), final_one=(8, 8, 7, 7, 8),
                   hq_one=(0.72, 0.72, 0.72, 0.6, 0.8)))
    _fails(fake_study(first_alt=(700, 1300, 600, 750, 1300)), "reached 8 modes before")
    _fails(fake_study(first_alt=(700, 800, 900, 750, 1200)), "reached 8 modes before")  # ties
    _fails(fake_study(final_alt=(8, 8, 8, 8, 7)), "alternating: seeds ending with all 8")
    _fails(fake_study(final_one=(8, 7, 8, 6, 7)), "single loss: seeds ending with all 8")
    _fails(fake_study(final_one=(8, 8, 8, 8, 8)),
           "worst seed's modes")
    _fails(fake_study(hq_one=(0.7, 0.75, 0.8, 0.7, 0.75)), "worst seed's high-quality")
    _fails(fake_study(hq_one=(0.6, 0.6, 0.6, 0.3, 0.75)), "median high-quality share")  # 0.25
    _fails(fake_study(hq_one=(0.9, 0.9, 0.9, 0.3, 0.9)), "median high-quality share")  # -0.05
    _fails(gan.SeedStudy({}, {}, tuple(r for r in fake.runs if r.seed < 3)), "seeds in the study")
    with pytest.raises(ValueError, match="seed 9"):
        fake.run("one_step", 9)


def test_digits_claims():
    real, _ = load_digits("unit")
    rng = np.random.default_rng(0)
    good = real[rng.choice(len(real), 32, replace=False)].reshape(-1, 8, 8)
    noisy = np.clip(good + 0.1 * rng.standard_normal(good.shape), 0, 1)
    images = {"untrained": rng.random((32, 8, 8)), "one_step": noisy, "alternating": good}
    _ok(gan.DigitsComparison(images))
    _fails(gan.DigitsComparison(images | {"one_step": rng.random((32, 8, 8))}),
           "single loss: mean distance")
    _fails(gan.DigitsComparison(images | {"alternating": np.repeat(good[:1], 32, axis=0)}),
           "alternating: images differ")
    assert gan.DigitsComparison(images).distance("alternating") == 0.0


def test_step_timing_claims():
    _ok(gan.StepTiming(256, 1.0, 1.0, 1.5))
    _fails(gan.StepTiming(256, 3.2, 3.0, 1.5), "single loss / D\\+G pair in two calls")
    _fails(gan.StepTiming(256, 0.1, 1.0, 0.5), "single loss / D\\+G pair in one call")
    _fails(gan.StepTiming(256, 3.5, 1.0, 3.0), "single loss / D\\+G pair in one call")


def test_benchmark_claims():
    _ok(fake_bench())
    _fails(fake_bench(mem=(1.1, 1.5)), "costs memory")
    _fails(fake_bench(two=(0.65, 0.95, 0.7)), "saves time against two calls")
    _fails(fake_bench(one=(1.2, 1.3, 1.25)), "about even against one compiled call")
    _fails(fake_bench(wide_two=(0.7, 0.72)), "the saving shrinks")


def test_check_claims_rejects_other_results():
    with pytest.raises(ValueError, match="result must be one of"):
        gan.check_claims({"modes": 8})
    assert set(gan.CLAIMS) == {gan.ZeroTerm, gan.SplitCheck, gan.LamTable, gan.DiracComparison,
                               gan.RingComparison, gan.SeedStudy, gan.DigitsComparison,
                               gan.StepTiming, gan.BenchmarkResults}
