#!/usr/bin/env python3
"""Start-up of `todo-local` on its embedded SQLite database: the time from starting the
process to its first 200 from /readyz (which queries the database), on a fresh database
(migrations run first) and on an existing one; the median and the range of RUNS runs each.

    cargo build --release -p todo-local
    python3 scripts/bench/startup.py [path/to/todo-local] [RUNS]
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_start(binary: str, db: str) -> float:
    port = free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite://{db}", LOG_LEVEL="warn", JWT_SECRET="startup-bench")
    started = time.perf_counter()
    proc = subprocess.Popen([binary, "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return (time.perf_counter() - started) * 1000
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"todo-local exited with {proc.returncode}")
            time.sleep(0.002)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/todo-local"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory() as tmp:
        fresh = [one_start(binary, f"{tmp}/fresh-{i}.db") for i in range(runs)]
        existing = [one_start(binary, f"{tmp}/fresh-0.db") for _ in range(runs)]
    size = os.path.getsize(binary) / 1e6
    print(f"binary: {binary} ({size:.1f} MB)")
    for name, times in (("fresh database (migrations)", fresh), ("existing database", existing)):
        print(f"{name}: median {statistics.median(times):.0f} ms, "
              f"range {min(times):.0f}-{max(times):.0f} ms over {runs} runs")


if __name__ == "__main__":
    main()
