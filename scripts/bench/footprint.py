#!/usr/bin/env python3
"""Scale-from-zero readiness of each function binary: its size, the time from starting the
process to its first 200 from /readyz (which runs a query, so the database connection is
in it), and its resident memory once idle; the median of RUNS starts each.

A function binary starts as it does in a pod (Dapr HTTP transport, app API token set), on
the PostgreSQL of DATABASE_URL (`scripts/pg.sh start` prints one).

    cargo build --release --locked --workspace --bins
    DATABASE_URL=postgres://... python3 scripts/bench/footprint.py [TARGET_DIR/release] [RUNS]

The image links its binaries with pack-relative-relocs (Dockerfile); to measure those,
relink each package of functions/ after that build (its dependencies are reused):

    cargo rustc --release --locked -p <package> -- -C link-arg=-Wl,-z,pack-relative-relocs
"""

import os
import socket
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binaries() -> list[str]:
    """The function binaries (functions/*), todo-local last."""
    names = []
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        data = tomllib.loads(manifest.read_text())
        bins = data.get("bin") or [{"name": data["package"]["name"]}]
        names += [b["name"] for b in bins]
    return sorted(names, key=lambda n: (n == "todo-local", n))


def rss_kib(pid: int) -> tuple[int, int]:
    """The resident set and its private (anonymous) part, in KiB: the rest is the mapped
    binary, whose pages every process of the same image shares."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["RssAnon"]


def one_start(binary: Path, database_url: str) -> tuple[float, tuple[int, int]]:
    """Milliseconds to the first 200 from /readyz, and the idle RSS (all, private) in KiB a
    second later."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, JWT_SECRET="footprint-bench",
               APP_PORT=str(port), APP_HOST="127.0.0.1", APP_API_TOKEN="footprint-bench",
               DAPR_HTTP_PORT=str(free_port()), LOG_LEVEL="warn", WEB_DIR=str(ROOT / "web/dist"))
    args = [str(binary)] + (["serve", "--port", str(port)] if binary.name == "todo-local" else [])
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        ready = (time.perf_counter() - started) * 1000
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{binary.name} exited with {proc.returncode}: "
                                 f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.001)
        time.sleep(1)
        return ready, rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    release = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target/release")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise SystemExit("set DATABASE_URL (postgres://...; the function binaries run on "
                         "PostgreSQL)")
    print("| binary | size | start to first 200 from /readyz (median, range) "
          "| idle RSS (median) | of which private |")
    print("| --- | --- | --- | --- | --- |")
    for name in binaries():
        binary = release / name
        if not binary.exists():
            print(f"| {name} | not built | | | |")
            continue
        samples = [one_start(binary, database_url) for _ in range(runs)]
        times = [t for t, _ in samples]
        rss = statistics.median(r for _, (r, _) in samples) / 1024
        private = statistics.median(a for _, (_, a) in samples) / 1024
        print(f"| {name} | {binary.stat().st_size / 1e6:.1f} MB | "
              f"{statistics.median(times):.0f} ms ({min(times):.0f}-{max(times):.0f}) | "
              f"{rss:.1f} MiB | {private:.1f} MiB |", flush=True)


if __name__ == "__main__":
    main()
