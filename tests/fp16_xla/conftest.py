"""Lesson 05's live benchmarks, started once in the background for the whole directory.

They start with the directory's first test (if any selected test needs them); the other tests
run while they do, and the tests that need a result run last and wait for it.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _needs_a_live_run(item) -> bool:
    return bool({"bench", "verbatim"} & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(items):
    """Move this directory's tests that wait for a live run after its other tests (the order of
    every other test is left as it is)."""
    mine = [i for i, item in enumerate(items) if HERE in Path(item.path).resolve().parents]
    if not mine:
        return
    block = [items[i] for i in mine]
    ordered = ([item for item in block if not _needs_a_live_run(item)]
               + [item for item in block if _needs_a_live_run(item)])
    for i, item in zip(mine, ordered, strict=True):
        items[i] = item

# One shared subprocess for these (the dtype policy is set afresh for each configuration)...
LIVE = ["fp32", "mixed", "fp16", "xla"]
# ...and the post's flags verbatim next to FP32: two subprocesses (their TF_XLA_FLAGS differ),
# so the rounds interleave across processes too. Both start at once (jobs=2): their warm-ups
# overlap, their timed rounds never do.
VERBATIM = ["fp32", "autojit"]
MICRO = {"size": "micro", "steps": 1, "repeats": 3, "warmup": 1, "progress": False,
         "peak_seconds": 0.01}


@pytest.fixture(scope="session", autouse=True)
def _fp16_benchmarks(request):
    from concurrent.futures import ThreadPoolExecutor

    needed = any(_needs_a_live_run(item) for item in request.session.items)
    if not needed:
        yield {}
        return
    from lessons import fp16_xla as fx
    from lessons.fp16_xla.bench.workload import make_batch

    make_batch(MICRO["size"])  # the corpus, once, before the threads start
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {
        "bench": pool.submit(fx.run_benchmark, LIVE, share_process=True, jobs=2, seed=0, **MICRO),
        "verbatim": pool.submit(fx.run_benchmark, VERBATIM, cpu_global_jit=False, jobs=2,
                                seed=0, **MICRO),
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def bench(_fp16_benchmarks):
    return _fp16_benchmarks["bench"].result()


@pytest.fixture(scope="session")
def verbatim(_fp16_benchmarks):
    return _fp16_benchmarks["verbatim"].result()
