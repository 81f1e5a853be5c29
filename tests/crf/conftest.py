import pytest


@pytest.fixture(scope="session")
def tiny_run():
    """One small run of ``crf_testing.TINY`` without XLA, trained once per session (do not
    mutate the result): the seed test and the train panel's test compare against it."""
    from crf_testing import TINY

    from lessons.crf import train_run

    return train_run(TINY, jit_compile=False)
