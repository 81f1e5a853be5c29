"""A class on one JupyterHub, simulated: K students run a lesson at once (a load test, not a timed test).

    .venv/bin/python benchmarks/classroom.py --students 4 --lesson 02

It starts the course's hub (hub/, as `make hub` does; run `make hub` once first to install it) on
127.0.0.1 for K + 1 students. One student runs the lesson's notebook alone; then K others log in
through the hub's login form, start their servers and run the same notebook top to bottom through
their own server's kernel API, all at once. Each kernel's resident memory (the kernel and its
children) is read from /proc every 0.25 s. It prints a table (per student: start-up, run time,
peak RSS, failures), the throughput of the class against the student alone, every failure with
its traceback and the server's log, and writes the numbers (JSON) and a plot (PNG) to the results
folder (lessons._core.results; --out, --force). Everything runs on this machine; every wait has a
timeout and the hub and all it started are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub import control, student  # noqa: E402
from lessons import COURSE  # noqa: E402
from lessons._core.results import output_path  # noqa: E402

NOTEBOOKS = {"00": "00_start_here.ipynb", **{lesson.number: lesson.notebook for lesson in COURSE}}
GB = 2**30


class MemoryPoll(threading.Thread):
    """Peak RSS of each kernel (its process and every child), and of all of them together."""

    def __init__(self, interval: float = 0.25):
        super().__init__(daemon=True)
        self.interval, self.kernels, self.peak, self.peak_total = interval, {}, {}, 0
        self.halt = threading.Event()

    def watch(self, user: str, kernel_id: str) -> None:
        self.kernels[user] = kernel_id

    def run(self) -> None:
        pids: dict[str, int] = {}
        while not self.halt.wait(self.interval):
            total = 0
            for user, kernel_id in list(self.kernels.items()):
                pid = pids.get(user) or control.kernel_pid(kernel_id)
                if pid is None:
                    continue
                pids[user] = pid
                rss = control.rss_bytes({pid} | control.descendants(pid))
                self.peak[user] = max(self.peak.get(user, 0), rss)
                total += rss
            self.peak_total = max(self.peak_total, total)


def one_student(hub, name: str, path: str, poll: MemoryPoll, cell_timeout: float) -> dict:
    """Log in, start the server, run the notebook; a failure at any step is recorded, not raised."""
    s = student.Student(hub.url, name, hub.password, timeout=300)
    home = hub.state / "homes" / name
    started = time.monotonic()
    try:
        s.log_in()
        s.start_server()
    except Exception as error:  # noqa: BLE001
        run = student.Run(name, path, error=f"start-up: {type(error).__name__}: {error}")
        return {"run": run, "start_s": time.monotonic() - started}
    start_s = time.monotonic() - started
    # the kernel is known once the session opens: watch it from then on
    original = s.open_notebook

    def open_and_watch(p):
        notebook, kernel_id = original(p)
        poll.watch(name, kernel_id)
        return notebook, kernel_id

    s.open_notebook = open_and_watch
    run = s.run_notebook(path, cell_timeout=cell_timeout, home=home)
    hub.watch()
    s.shut_down_kernel(run.kernel_id)
    return {"run": run, "start_s": start_s}


def run_class(args) -> dict:
    path = f"lessons/{NOTEBOOKS[args.lesson]}"
    threads = args.threads or max(1, len(os.sched_getaffinity(0)) // args.students)
    class_size = args.students + (args.students > 1)  # one more student runs alone first
    started = time.monotonic()
    hub = control.start(users=class_size, port=args.port or control.free_port(), threads=threads,
                        state=control.fresh_state(Path(args.state)), timeout=120)
    hub_start_s = time.monotonic() - started
    poll = MemoryPoll()
    poll.start()
    timer = threading.Timer(args.timeout, lambda: control.stop(hub))  # the run stops by itself
    timer.start()
    try:
        alone = one_student(hub, hub.users[-1], path, poll, args.cell_timeout)
        together = [alone]
        wall_s = alone["run"].seconds
        if args.students > 1:
            names = hub.users[: args.students]
            began = time.monotonic()
            with ThreadPoolExecutor(args.students) as pool:
                together = list(pool.map(lambda n: one_student(hub, n, path, poll, args.cell_timeout), names))
            wall_s = time.monotonic() - began
    finally:
        timer.cancel()
        poll.halt.set()
        left = control.stop(hub)
    rows = [{"user": r["run"].user, "start_s": r["start_s"], "run_s": r["run"].seconds,
             "cells": r["run"].cells, "peak_rss_gb": poll.peak.get(r["run"].user, 0) / GB,
             "ok": r["run"].ok, "failures": [asdict(f) for f in r["run"].failures],
             "error": r["run"].error, "not_holding": r["run"].not_holding,
             "server_log": r["run"].server_log} for r in together]
    alone_s = alone["run"].seconds
    return {"lesson": args.lesson, "notebook": path, "students": args.students, "threads": threads,
            "cores": len(os.sched_getaffinity(0)), "hub_start_s": hub_start_s,
            "alone": {"run_s": alone_s, "ok": alone["run"].ok,
                      "peak_rss_gb": poll.peak.get(alone["run"].user, 0) / GB},
            "wall_s": wall_s, "throughput_vs_alone": args.students * alone_s / wall_s if wall_s else 0.0,
            "peak_rss_all_kernels_gb": poll.peak_total / GB, "rows": rows,
            "processes_left_after_stop": sorted(left)}


def report(result: dict) -> str:
    lines = [f"lesson {result['lesson']} ({result['notebook']}), {result['students']} student(s) at once, "
             f"{result['threads']} thread(s) per kernel, {result['cores']} cores; "
             f"hub up in {result['hub_start_s']:.1f} s",
             f"alone: {result['alone']['run_s']:.1f} s, peak {result['alone']['peak_rss_gb']:.2f} GB"
             f"{'' if result['alone']['ok'] else ' (FAILED)'}",
             f"{'student':<10} {'start s':>8} {'run s':>8} {'cells':>6} {'peak GB':>8}  result"]
    for row in result["rows"]:
        verdict = "ok" if row["ok"] else f"FAILED ({len(row['failures'])} cell(s)) {row['error']}"
        lines.append(f"{row['user']:<10} {row['start_s']:>8.1f} {row['run_s']:>8.1f} {row['cells']:>6} "
                     f"{row['peak_rss_gb']:>8.2f}  {verdict}")
    lines.append(f"class: all done in {result['wall_s']:.1f} s; throughput {result['throughput_vs_alone']:.2f}x "
                 f"one student alone (K x alone time / class time); all kernels together peaked at "
                 f"{result['peak_rss_all_kernels_gb']:.2f} GB")
    if result["processes_left_after_stop"]:
        lines.append(f"processes left after the hub stopped (killed): {result['processes_left_after_stop']}")
    for row in result["rows"]:
        for failure in row["failures"]:
            lines += [f"--- {row['user']}: cell {failure['cell']} raised {failure['ename']}: {failure['evalue']}",
                      failure["source"], failure["traceback"]]
        if row["error"]:
            lines.append(f"--- {row['user']}: {row['error']}")
        if not row["ok"]:
            lines += [f"--- {row['user']}'s server log (last lines):", row["server_log"]]
        for line in row["not_holding"]:
            lines.append(f"--- {row['user']}: {line}")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = [row["user"] for row in result["rows"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.bar(users, [row["run_s"] for row in result["rows"]], color="tab:blue")
    left.axhline(result["alone"]["run_s"], color="k", ls="--", label="one student alone")
    left.set(ylabel="run time (s)", title=f"lesson {result['lesson']}, {result['students']} at once")
    left.legend()
    right.bar(users, [row["peak_rss_gb"] for row in result["rows"]], color="tab:orange")
    right.axhline(1.2, color="r", ls=":", label="1.2 GB per kernel (the hub budget)")
    right.set(ylabel="peak kernel RSS (GB)", title="kernel + children, from /proc")
    right.legend()
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, help="K students at once (1-32)")
    parser.add_argument("--lesson", default="02", choices=sorted(NOTEBOOKS), help="the notebook (default 02)")
    parser.add_argument("--threads", type=int, default=None, help="threads per kernel (default cores // K)")
    parser.add_argument("--cell-timeout", type=float, default=600.0, help="seconds one cell may take")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--port", type=int, default=None, help="the hub's port (default: a free one)")
    parser.add_argument("--state", default=str(ROOT / "hub/.state/classroom"), help="hub's state folder")
    parser.add_argument("--out", default=None, help="the JSON file (default: results folder); PNG beside it")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = parser.parse_args(argv)
    if args.students is None:  # `make bench` runs every benchmark bare: this one starts a hub
        print("benchmarks/classroom.py starts a JupyterHub and needs --students K, e.g. "
              "`.venv/bin/python benchmarks/classroom.py --students 4 --lesson 02` (after `make hub`).")
        return 0
    if not 1 <= args.students <= 32:
        parser.error(f"--students must be in [1, 32], got {args.students}")
    name = f"classroom_{args.lesson}_k{args.students}"
    out = output_path(args.out, f"{name}.json", force=args.force)
    png = output_path(out.with_suffix(".png"), out.with_suffix(".png").name, force=args.force)
    result = run_class(args)
    print(report(result))
    out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, png)
    print(f"wrote {out} and {png}")
    return 0 if all(row["ok"] for row in result["rows"]) and result["alone"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
