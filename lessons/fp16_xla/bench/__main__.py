"""``python -m lessons.fp16_xla.bench child SPEC_JSON``: the benchmark's child process (started by
``run_benchmark``; see ``lessons.fp16_xla.bench.child``)."""

import sys

from lessons.fp16_xla.bench.child import child_main

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "child":
        sys.exit("usage: python -m lessons.fp16_xla.bench child SPEC_JSON")
    sys.exit(child_main(sys.argv[2]))
