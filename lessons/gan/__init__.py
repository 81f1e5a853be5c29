"""Lesson 02: one loss trains a GAN, by stopping gradients.

Post: https://kexue.fm/archives/6387. The hinge GAN in the post's sign convention: D minimises
E[relu(1 + D(x))] + E[relu(1 - D(G(z)))], G minimises E[D(G(z))]. With
``G_ng(z) = stop_gradient(G(z))`` the single loss

    L = E[relu(1 + D(x))] + E[relu(1 - D(G_ng(z)))] + lam * E[D(G(z)) - D(G_ng(z))]

has the value of the D loss, gives D exactly the D-loss gradient and G exactly ``lam`` times the
gradient of E[D(G(z))]. One optimizer over all weights then trains both networks in one step.

Modules, lowest first (each imports only those above it):

- ``losses``: ``one_step_loss``, the hinge losses and the zero term; ``models``: the MLPs;
  ``coverage``: mode coverage on the ring;
- ``trainers``: ``OneStepGAN``, ``AlternatingGAN``, ``make_trainer``;
- ``gradients``: the zero term's gradients and the gradient split, checked (Sections 2-3);
  ``formulas``: what ``lam`` does under SGD, Adam and RMSprop (Section 4);
  ``dirac``: the Dirac GAN (Section 5); ``experiments``: the ring and the digits (6-7);
- ``seeds``: the stored multi-seed study (``python -m lessons.gan seeds``); ``timing``: ms per
  step, peak memory and the stored ``benchmarks/gan.py`` results (Section 9); ``results``:
  where they are stored;
- ``claims``: ``check_claims``, what the notebook says about each result, with measured bands;
- ``views``: ``format_*`` text, ``plot_*`` figures and ``ring_explorer``.

Every experiment takes ``seed=None`` and then uses the course seed (``lessons.setup(seed)``).
"""

from lessons.gan.claims import (
    CLAIMS,
    RING_BANDS,
    benchmark_claims,
    check_claims,
    claims_for,
    digits_claims,
    dirac_claims,
    lam_table_claims,
    ring_claims,
    seed_study_claims,
    split_claims,
    step_timing_claims,
    zero_term_claims,
)
from lessons.gan.coverage import RING_RADIUS, RING_STD, Coverage, mode_coverage
from lessons.gan.dirac import DiracComparison, compare_dirac, dirac_gan
from lessons.gan.experiments import (
    DIGITS_STEPS,
    RING_BATCH,
    RING_STEPS,
    DigitsComparison,
    RingComparison,
    RingRun,
    compare_digits,
    compare_ring,
    nearest_digit_distance,
    train_digits,
    train_ring,
    untrained_digits,
)
from lessons.gan.formulas import (
    KERAS_OPTIMIZERS,
    LAM_TABLE_ROWS,
    LAM_TABLE_SCALES,
    OPTIMIZER_FORMULAS,
    LamTable,
    OptimizerSettings,
    adam_effective_epsilon,
    keras_optimizer_path,
    lam_ratio_table,
    lam_update_ratio,
    optimizer_formula,
)
from lessons.gan.gradients import (
    SplitCheck,
    ZeroTerm,
    demo_setup,
    gradient_split,
    split_check,
    zero_term,
)
from lessons.gan.losses import d_hinge_loss, g_hinge_loss, one_step_loss, zero_loss
from lessons.gan.models import make_discriminator, make_generator
from lessons.gan.results import BENCHMARK_FILE, POST, SEEDS_FILE, environment, results_path
from lessons.gan.seeds import SeedStudy, load_seed_study, run_seeds, seeds_output
from lessons.gan.timing import (
    BenchmarkResults,
    StepTiming,
    load_benchmark,
    peak_memory,
    peak_memory_in_process,
    time_steps,
)
from lessons.gan.trainers import (
    METHOD_NAMES,
    METHODS,
    TRAINER_OPTIMIZERS,
    AlternatingGAN,
    OneStepGAN,
    make_optimizer,
    make_trainer,
    xla_hlo,
)
from lessons.gan.views import (
    RingExplorer,
    format_benchmark,
    format_digits,
    format_dirac,
    format_lam_table,
    format_ring,
    format_seed_study,
    format_split_check,
    format_step_timing,
    format_zero_term,
    plot_coverage,
    plot_digits,
    plot_dirac,
    plot_ring_runs,
    ring_explorer,
)

__all__ = [
    # what the notebook calls (tests/gan/test_gan_layout.py checks it)
    "check_claims", "compare_digits", "compare_dirac", "compare_ring", "demo_setup",
    "format_benchmark", "format_digits", "format_dirac", "format_lam_table", "format_ring",
    "format_seed_study", "format_split_check", "format_step_timing", "format_zero_term",
    "lam_ratio_table", "load_benchmark", "load_seed_study", "mode_coverage", "one_step_loss",
    "peak_memory", "plot_coverage", "plot_digits", "plot_dirac", "plot_ring_runs",
    "ring_explorer", "split_check", "time_steps", "train_ring", "zero_term",
    # the rest of the public API (tests, benchmarks/gan.py, the e2e test)
    "BENCHMARK_FILE", "CLAIMS", "DIGITS_STEPS", "KERAS_OPTIMIZERS", "LAM_TABLE_ROWS",
    "LAM_TABLE_SCALES", "METHODS", "METHOD_NAMES", "OPTIMIZER_FORMULAS", "POST", "RING_BANDS",
    "RING_BATCH", "RING_RADIUS", "RING_STD", "RING_STEPS", "SEEDS_FILE", "TRAINER_OPTIMIZERS",
    "AlternatingGAN", "BenchmarkResults", "Coverage", "DiracComparison", "DigitsComparison",
    "LamTable", "OneStepGAN", "OptimizerSettings", "RingComparison", "RingExplorer", "RingRun",
    "SeedStudy", "SplitCheck", "StepTiming", "ZeroTerm", "adam_effective_epsilon",
    "benchmark_claims", "claims_for", "d_hinge_loss", "digits_claims", "dirac_claims",
    "dirac_gan", "environment", "g_hinge_loss", "gradient_split", "keras_optimizer_path",
    "lam_table_claims", "lam_update_ratio", "make_discriminator", "make_generator",
    "make_optimizer", "make_trainer", "nearest_digit_distance", "optimizer_formula",
    "peak_memory_in_process", "results_path", "ring_claims", "run_seeds", "seed_study_claims",
    "seeds_output", "split_claims", "step_timing_claims", "train_digits", "untrained_digits", "xla_hlo",
    "zero_loss", "zero_term_claims",
]
