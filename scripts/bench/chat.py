#!/usr/bin/env python3
"""Latency of the chatbot's paths on `todo-local` (release build, embedded SQLite, no
model): creating a task through REST against the same through the MCP tool `add_task`
(one stateless Streamable HTTP request), and a turn of the built-in assistant (`POST
/api/{user}/chat`, which parses the sentence and calls the tool in-process; its turns
rotate over users, each under the chat's per-user rate limit). Sequential requests on one
keep-alive connection; p50 and p99 of RUNS each, after a warm-up.

    cargo build --release -p todo-local
    python3 scripts/bench/chat.py [path/to/todo-local] [RUNS]
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(conn, method, path, headers, body):
    started = time.perf_counter()
    conn.request(method, path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 and response.status != 201:
        raise SystemExit(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return elapsed


def main() -> None:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/todo-local"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp}/bench.db", LOG_LEVEL="warn",
                   JWT_SECRET="chat-bench-secret")
        server = subprocess.Popen([binary, "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            token = subprocess.run([binary, "token", "bench"], env=env, check=True,
                                   capture_output=True, text=True).stdout.strip()
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            conn = http.client.HTTPConnection("127.0.0.1", port)
            auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            mcp = dict(auth, **{"Accept": "application/json, text/event-stream",
                                "MCP-Protocol-Version": "2025-06-18"})
            # The chat allows each user 30 messages a minute: its turns rotate over users
            # with a few each (its burst is 10).
            chat_users = []
            for u in range((runs + 30) // 8 + 1):
                user_token = subprocess.run([binary, "token", f"chatter-{u}"], env=env, check=True,
                                            capture_output=True, text=True).stdout.strip()
                chat_users.append((f"chatter-{u}", {"Authorization": f"Bearer {user_token}",
                                                    "Content-Type": "application/json"}))

            def chat_turn(i):
                user, headers = chat_users[(i + 30) // 8]
                return timed(conn, "POST", f"/api/{user}/chat", headers,
                             {"message": f"add errand {i} tomorrow at 5pm #home p2"})

            cases = {
                "REST POST /api/{user}/tasks": lambda i: timed(
                    conn, "POST", "/api/bench/tasks", auth,
                    {"title": f"rest task {i}", "priority": "high", "tags": ["home"]}),
                "MCP add_task (tools/call)": lambda i: timed(
                    conn, "POST", "/mcp", mcp,
                    {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                     "params": {"name": "add_task", "arguments":
                                {"title": f"mcp task {i}", "priority": "high", "tags": ["home"]}}}),
                "chat turn, built-in assistant": chat_turn,
            }
            results = {}
            for name, call in cases.items():
                for i in range(30):  # warm-up
                    call(-i - 1)
                results[name] = [call(i) for i in range(runs)]
        finally:
            server.terminate()
            server.wait()
    print(f"todo-local: {binary}; {runs} sequential requests each, one connection")
    for name, times in results.items():
        print(f"{name}: p50 {statistics.median(times):.2f} ms, p99 {percentile(times, 99):.2f} ms")


if __name__ == "__main__":
    main()
