"""One single-loss GAN step vs one alternating D+G pair: same models, batch and process.

Prints ms per step and the ratio one_step / pair (goal <= 0.75) for the ring models at the
notebook's batch and for a larger, compute-bound configuration. "pair" runs the D and the G step
in one compiled call; "two calls" runs them as two calls (two data transfers, like the post's
two train_on_batch / sess.run calls). Usage: python benchmarks/gan.py [--quick]
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lessons.gan import RING_BATCH, time_steps  # noqa: E402
from lessons.notebook import setup  # noqa: E402

CONFIGS = (  # (label, batch, hidden, steps per repeat)
    ("ring MLP 64x64", RING_BATCH, (64, 64), 30),
    ("wide MLP 256x256", 1024, (256, 256), 3),
)
GOAL = 0.75


def main(quick: bool = False) -> int:
    setup(0)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    header = f"{'config':<18} {'batch':>5} {'jit':>5} {'one-step':>10} {'D+G pair':>10} "
    print(header + f"{'2 calls':>10} {'ratio':>7} {'ratio 2 calls':>14}")
    for label, batch, hidden, steps in CONFIGS[:1] if quick else CONFIGS:
        for jit in (True, False):
            r = time_steps(batch, hidden, repeats=15, steps_per_repeat=steps, jit_compile=jit)
            print(f"{label:<18} {batch:>5} {str(jit):>5} {r['ms_one_step']:>7.3f} ms "
                  f"{r['ms_pair']:>7.3f} ms {r['ms_pair_two_calls']:>7.3f} ms "
                  f"{r['ratio']:>6.2f}x {r['ratio_two_calls']:>13.2f}x")
    print(f"goal: ratio <= {GOAL}x")
    return 0


if __name__ == "__main__":
    sys.exit(main("--quick" in sys.argv))
