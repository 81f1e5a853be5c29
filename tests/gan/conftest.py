import pytest


@pytest.fixture(scope="session")
def ring_runs():
    """Short ring runs (seed 0, without XLA) shared by lesson 02's tests, trained once per
    session (do not mutate them): training and tracing a step costs most of the tests' time, so
    each run answers several questions. Keys: each method (100 steps, snapshots at 0, 1, 20 and
    100) and (method, 4.0) (lam = 4, 20 steps)."""
    from gan_testing import RING_KW

    from lessons import gan

    runs = {m: gan.train_ring(m, steps=100, seed=0, snapshots=(0, 1, 20, 100), **RING_KW)
            for m in gan.METHODS}
    runs |= {(m, 4.0): gan.train_ring(m, steps=20, lam=4.0, seed=0, snapshots=(0, 1, 20),
                                      **RING_KW) for m in gan.METHODS}
    return runs
