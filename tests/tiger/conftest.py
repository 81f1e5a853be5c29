import pytest


@pytest.fixture(scope="session")
def small_runs():
    """Tiger, AdamW and lazy Tiger on ``tiger_testing.SMALL``, graph mode (cheaper than compiling
    three XLA loops for 300 steps), seed 0, trained once per session (do not mutate the result)."""
    from tiger_testing import SMALL

    from lessons.tiger import embedding_experiment

    return embedding_experiment(("tiger", "adamw", "lazy_tiger"), SMALL, seed=0, jit_compile=False)
