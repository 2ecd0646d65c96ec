#!/usr/bin/env python3
"""Times the list endpoint one request at a time, per query shape.

    scripts/bench/list-shapes.py <url> <token> <mode> [requests] [user]

Walks the same rotation as list.lua (terms of vocab.txt, tags of tags.txt, shapes of
shapes.txt; mode search, filter or plain) but sends one request at a time, so each latency
is the request alone, without the queueing of a concurrent run. Prints percentiles for all
requests and for each shape, and the slowest requests, then one RESULT line for api.sh.
Measures and reports; never asserts.
"""

import datetime
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def lines(name):
    text = (BENCH / name).read_text()
    return [l.rstrip() for l in text.splitlines() if l.strip() and not l.startswith("#")]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def summary(values):
    return "p50 %.2f  p90 %.2f  p99 %.2f  max %.2f" % (
        percentile(values, 50), percentile(values, 90), percentile(values, 99), max(values))


def main():
    url, token, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    requests = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    user = sys.argv[5] if len(sys.argv) > 5 else "bench-user"
    if mode not in ("search", "filter", "plain"):
        sys.exit(f"mode must be search, filter or plain, not {mode!r}")
    terms, tags = lines("vocab.txt"), lines("tags.txt")
    shapes = ["" if s == "-" else s for s in lines("shapes.txt")]
    now = datetime.datetime.now(datetime.timezone.utc)
    week = datetime.timedelta(days=7)
    dates = {"from": (now - week).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "to": (now + week).strftime("%Y-%m-%dT%H:%M:%SZ")}
    quote = lambda s: urllib.parse.quote(s, safe="-._~,")

    by_shape, every = {}, []
    n = 7919  # list.lua's first thread
    for _ in range(requests):
        n += 1
        i = n % len(terms)
        term = terms[i]
        if n % 3 == 0:
            term += " " + terms[(i * 7 + 13) % len(terms)]
        values = dict(dates, tag=tags[n % len(tags)], tag2=tags[(n * 7 + 3) % len(tags)])
        if mode == "plain":
            shape, query = "(search only)", "search=" + quote(term)
        else:
            shape = shapes[n % len(shapes)]
            query = shape
            for key, value in values.items():
                query = query.replace("{%s}" % key, quote(value))
            if mode == "search":
                query = "search=" + quote(term) + ("&" + query if query else "")
        path = f"{url}/api/{user}/tasks" + ("?" + query if query else "")
        request = urllib.request.Request(path, headers={"Authorization": "Bearer " + token})
        start = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            response.read()
        ms = (time.perf_counter() - start) * 1000
        by_shape.setdefault(shape or "(no parameters)", []).append(ms)
        every.append((ms, query))

    latencies = [ms for ms, _ in every]
    print(f"{len(every)} requests, one at a time, mode {mode}; ms: {summary(latencies)}")
    print()
    print("| shape | requests | p50 | p90 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for shape, values in by_shape.items():
        print("| `%s` | %d | %.2f | %.2f | %.2f | %.2f |" % (
            shape, len(values), percentile(values, 50), percentile(values, 90),
            percentile(values, 99), max(values)))
    print()
    print("slowest:")
    for ms, query in sorted(every, reverse=True)[:10]:
        print("  %6.1f ms  %s" % (ms, urllib.parse.unquote(query)))
    total_s = sum(latencies) / 1000
    print("RESULT requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
          "non2xx=0 socket_errors=0" % (
              len(latencies), len(latencies) / total_s, percentile(latencies, 50),
              percentile(latencies, 90), percentile(latencies, 99), max(latencies)))


if __name__ == "__main__":
    main()
