"""`make hub`: a JupyterHub on 127.0.0.1 for a class of test students, until Ctrl-C.

    .venv/bin/python hub/run.py --users 4 --port 8765
"""

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub import control  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="students student1..N (default 4)")
    parser.add_argument("--port", type=int, default=8765, help="the hub's port (uses port+1, +2 too)")
    parser.add_argument("--password", default=None, help="the students' shared password (default: random)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads per kernel (default: cores // users, at least 1)")
    parser.add_argument("--mem-limit", default="1.5G", help="per-student memory (see teacher/hub.md)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    hub = control.start(users=args.users, port=args.port, password=args.password,
                        threads=args.threads, mem_limit=args.mem_limit)
    print(f"JupyterHub at {hub.url} (started in {time.monotonic() - started:.1f} s)\n"
          f"users: {', '.join(hub.users)}\npassword: {hub.password}\n"
          f"state, logs and homes: {hub.state}\nCtrl-C stops the hub and every server it started.",
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while hub.process.poll() is None:
            time.sleep(1)
            hub.watch()
        print(f"jupyterhub exited with {hub.process.returncode}; its log: {hub.state / 'jupyterhub.log'}")
        return 1
    except (KeyboardInterrupt, SystemExit):
        return 0
    finally:
        left = control.stop(hub)
        print("hub stopped" + (f"; killed processes it left: {sorted(left)}" if left else " cleanly"))


if __name__ == "__main__":
    sys.exit(main())
