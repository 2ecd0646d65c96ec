"""The fault scenario's load driver and its checks (scripts/e2e-dapr.sh faults). Stdlib only.

  faults.py drive CONFIG OUT STOP   steady mixed load until the file STOP exists
  faults.py check CONFIG OUT WINDOWS TASKS EVENTS HOOKS

drive: one thread per user, each on a fresh connection per request (so that a function's
shutdown never races a reused keep-alive connection), appending one JSON line per request
to OUT: start and end times, function, method, path, status (0 when no HTTP answer came:
`error` says why), the Retry-After header and what the request meant to change.

  series   creates weekly tasks and completes them (on-completed creates the next
           occurrence); after STOP it completes every one still open, so that each task it
           created ends completed
  edit     creates tasks, renames and rewrites them, reads them and lists them
  remind   creates tasks whose reminder falls due a little later, while the load runs

check: the requests against the database and the webhook receiver afterwards. Every 2xx
create and update is in the database as the client last saw it, and no failed create is; the
only other answers were 503 with Retry-After during the database outage, each within
fail_fast_s, and refused connections to a function while it was stopped; no request hung;
every completed task has exactly one next occurrence; every task-events event of these
users is in the audit log once; every due reminder reached the webhook once, correctly
signed. Prints the counts; exits 1 on any failure.
"""

import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

TIMEOUT_S = 30  # the client gives up on a request after this long
# A request that takes longer than this hung: every wait on its path is bounded well below
# it (the pool's wait for a connection, the relay's publish timeout).
HANG_S = 15


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Driver:
    def __init__(self, config, out, stop):
        self.config = config
        self.stop = stop
        self.out = open(out, "a", buffering=1)
        self.lock = threading.Lock()
        self.seq = 0

    def stopping(self):
        return os.path.exists(self.stop)

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def request(self, user, token, function, method, path, body=None, **meaning):
        url = urlsplit(self.config["urls"][function])
        record = {"user": user, "function": function, "method": method, "path": path, **meaning}
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        record["t0"] = time.time()
        answer = None
        try:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_S)
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                record["status"] = response.status
                record["retry_after"] = response.getheader("retry-after")
                try:
                    answer = json.loads(raw) if raw else None
                except ValueError:
                    record["body"] = raw[:200].decode(errors="replace")
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            record["status"] = 0
            record["error"] = f"{type(e).__name__}: {e}"
        record["t1"] = time.time()
        if isinstance(answer, dict):
            if "id" in answer:
                record["id"] = answer["id"]
            if "error" in answer:
                record["error_code"] = answer["error"].get("code")
        with self.lock:
            self.out.write(json.dumps(record) + "\n")
        return record, answer

    # --- users --------------------------------------------------------------------------

    def series(self, user, token, pace):
        base = f"/api/{user}/tasks"
        open_ids = []
        due = iso(time.time() + 86400)
        while not self.stopping():
            n = self.next_seq()
            title = f"series {n}"
            r, _ = self.request(user, token, "create-task", "POST", base,
                                {"title": title, "due_at": due, "recurrence": "weekly"},
                                kind="create", title=title, description="")
            if r["status"] == 201:
                open_ids.append(r["id"])
            time.sleep(pace)
            if len(open_ids) > 1 and not self.stopping():
                task = open_ids[0]
                r, _ = self.request(user, token, "complete-task", "PATCH",
                                    f"{base}/{task}/complete", {"completed": True},
                                    kind="complete", task=task)
                if 200 <= r["status"] < 300:
                    open_ids.pop(0)
                time.sleep(pace)
        # Everything is up again: complete what is still open (each a bounded number of tries).
        for task in open_ids:
            for _ in range(20):
                r, _ = self.request(user, token, "complete-task", "PATCH",
                                    f"{base}/{task}/complete", {"completed": True},
                                    kind="complete", task=task, phase="drain")
                if 200 <= r["status"] < 300:
                    break
                time.sleep(1)

    def edit(self, user, token, pace):
        base = f"/api/{user}/tasks"
        ids = []
        rng = random.Random(user)
        while not self.stopping():
            n = self.next_seq()
            roll = rng.random()
            if not ids or roll < 0.35:
                title, desc = f"edit {n}", f"content {n} of {user}"
                r, _ = self.request(user, token, "create-task", "POST", base,
                                    {"title": title, "description": desc, "tags": ["faults"]},
                                    kind="create", title=title, description=desc)
                if r["status"] == 201:
                    ids.append(r["id"])
            elif roll < 0.75:
                task = rng.choice(ids)
                title, desc = f"edit {n} renamed", f"content {n} rewritten"
                self.request(user, token, "update-task", "PATCH", f"{base}/{task}",
                             {"title": title, "description": desc},
                             kind="update", task=task, title=title, description=desc)
            elif roll < 0.9:
                task = rng.choice(ids)
                self.request(user, token, "get-task", "GET", f"{base}/{task}", kind="get", task=task)
            else:
                self.request(user, token, "list-tasks", "GET", f"{base}?tag=faults&page_size=20",
                             kind="list")
            time.sleep(pace)

    def remind(self, user, token, pace):
        base = f"/api/{user}/tasks"
        rng = random.Random(user)
        lo, hi = self.config["remind_in_s"]
        while not self.stopping():
            n = self.next_seq()
            # Reminded one minute before it is due: remind_at LO..HI seconds from now.
            due = iso(time.time() + 60 + rng.uniform(lo, hi))
            title = f"remind {n}"
            self.request(user, token, "create-task", "POST", base,
                         {"title": title, "due_at": due, "reminder_minutes": 1},
                         kind="create", title=title, description="", reminder=True)
            time.sleep(pace)

    def run(self):
        threads = []
        for role, user, token, pace in self.config["users"]:
            target = {"series": self.series, "edit": self.edit, "remind": self.remind}[role]
            t = threading.Thread(target=target, args=(user, token, pace), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()


# --- checks ------------------------------------------------------------------------------


def overlaps(r, start, end):
    return r["t0"] <= end and r["t1"] >= start


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def check(config, out, windows_path, tasks_path, events_path, hooks_path):
    failures = []

    def fail(message):
        failures.append(message)

    requests = [json.loads(l) for l in open(out) if l.strip()]
    windows = [json.loads(l) for l in open(windows_path) if l.strip()]
    tasks = {t["id"]: t for t in json.load(open(tasks_path))}
    events = json.load(open(events_path))
    hooks = [json.loads(l) for l in open(hooks_path) if l.strip()]
    grace = config["db_grace_s"]

    db = [w for w in windows if w["kind"] == "db"]
    down = [w for w in windows if w["kind"] == "down"]

    # Every answer: 2xx, or a 503 with Retry-After while the database was down, or no
    # answer from a function while it was shutting down or stopped.
    by_status = Counter()
    excused = Counter()
    for r in requests:
        s = r["status"]
        by_status[s] += 1
        if 200 <= s < 300:
            continue
        what = f"{r['method']} {r['path']} ({r['function']}) at {iso(r['t0'])}: {s} {r.get('error') or r.get('error_code') or r.get('body', '')}"
        if s == 503:
            if not r.get("retry_after"):
                fail(f"503 without Retry-After: {what}")
            elif not any(overlaps(r, w["start"], w["end"] + grace) for w in db):
                fail(f"503 outside the database outage: {what}")
            else:
                excused["503 + Retry-After during the database outage"] += 1
        elif (s == 0 and r.get("error", "").startswith("ConnectionRefusedError")
              and any(w["function"] == r["function"] and overlaps(r, w["start"], w["end"])
                      for w in down)):
            # Refused: it no longer listened. A reset or an end without an answer would
            # be a request it had accepted and dropped, which a drain must never do.
            excused[f"connection refused by {r['function']} while it was stopped"] += 1
        else:
            fail(f"unexpected answer: {what}")
    for r in requests:
        if r["t1"] - r["t0"] > HANG_S:
            fail(f"{r['method']} {r['path']} took {r['t1'] - r['t0']:.1f}s (a hang)")

    # The database outage: requests failed fast.
    outage = [r for r in requests if any(overlaps(r, w["start"], w["end"]) for w in db)]
    failed_fast = [r["t1"] - r["t0"] for r in outage if r["status"] == 503]
    if db and not failed_fast:
        fail("no request was answered 503 during the database outage (the load did not reach it)")
    slow = [r for r in outage if r["status"] == 503 and r["t1"] - r["t0"] > config["fail_fast_s"]]
    if slow:
        fail(f"{len(slow)} request(s) took more than {config['fail_fast_s']}s to fail during the "
             f"database outage, the slowest {max(r['t1'] - r['t0'] for r in slow):.1f}s")

    # The broker outage: publishing is after the commit, so requests went on (slower).
    broker = [r for r in requests if any(overlaps(r, w["start"], w["end"]) for w in windows if w["kind"] == "kafka")]

    # Every 2xx write is in the database as the client last saw it; a failed write is not.
    latest = {}  # task id -> (title, description) the client last saw accepted
    pending = {}  # task id -> (title, description) of failed writes after that
    created, updated, completed = set(), 0, set()
    created_titles = {(e["user"], e["title"]) for e in events if e["type"] == "task.created"}
    for r in sorted(requests, key=lambda r: r["t0"]):
        ok = 200 <= r["status"] < 300
        if r.get("kind") == "create":
            if ok:
                created.add(r["id"])
                latest[r["id"]] = (r["title"], r["description"])
            elif (r["user"], r["title"]) in created_titles:
                fail(f"create '{r['title']}' answered {r['status']} but the task was created")
        elif r.get("kind") == "update":
            if ok:
                updated += 1
                latest[r["task"]] = (r["title"], r["description"])
                pending.pop(r["task"], None)
            else:
                pending.setdefault(r["task"], set()).add((r["title"], r["description"]))
        elif r.get("kind") == "complete" and ok:
            completed.add(r["task"])
    for task_id, want in latest.items():
        t = tasks.get(task_id)
        if t is None:
            fail(f"task {task_id} was answered 2xx but is not in the database")
            continue
        got = (t["title"], t["description"])
        if got != want and got not in pending.get(task_id, set()):
            fail(f"task {task_id} is {got}, the client last saw {want} accepted")
    for task_id in completed:
        if not tasks.get(task_id, {}).get("completed"):
            fail(f"task {task_id} was completed (2xx) but is not completed in the database")
    for t in tasks.values():
        if t["recurrence_parent_id"] is None and t["id"] not in created:
            fail(f"task {t['id']} ('{t['title']}') exists but no create of it was answered 2xx")

    # One next occurrence per completed recurring task, none for any other.
    children = Counter(t["recurrence_parent_id"] for t in tasks.values() if t["recurrence_parent_id"])
    for task_id in completed:
        if children[task_id] != 1:
            fail(f"completed recurring task {task_id} has {children[task_id]} next occurrence(s)")
    for parent in children:
        if parent not in completed:
            fail(f"task {parent} has a next occurrence but its completion was never answered 2xx")

    # Every task-events event of these users audited once; every one published.
    audited = Counter()
    for e in events:
        if e["audited"] != 1:
            fail(f"event {e['event_id']} ({e['type']} of task {e['task']}) is in the audit log {e['audited']} times")
        else:
            audited[e["type"]] += 1
        if not e["published"]:
            fail(f"event {e['event_id']} ({e['type']}) is still pending in the outbox")
    created_events = {e["task"] for e in events if e["type"] == "task.created"}
    for task_id in created:
        if task_id not in created_events:
            fail(f"task {task_id} has no task.created event")
    completed_events = {e["task"] for e in events if e["type"] == "task.completed"}
    for task_id in completed:
        if task_id not in completed_events:
            fail(f"completed task {task_id} has no task.completed event")

    # Every reminder that fell due reached the webhook once, signed with the user's secret.
    secret = config["webhook_secret"].encode()
    delivered = Counter()
    for d in hooks:
        want = "sha256=" + hmac.new(secret, d["body"].encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, d["signature"] or ""):
            fail(f"delivery of event {d['event_id']} has a bad signature")
        body = json.loads(d["body"])
        if body.get("event_type") != "reminder.due" or body.get("event_id") != d["event_id"]:
            fail(f"unexpected delivery {d['body'][:200]}")
        delivered[body.get("task_id")] += 1
    due = [t for t in tasks.values() if t["remind_at"] and t["user_id"] == config["remind_user"]]
    late = []
    for t in due:
        n = delivered.pop(t["id"], 0)
        if n != 1:
            fail(f"the reminder of task {t['id']} (remind_at {t['remind_at']}) was delivered {n} times")
        if not t["reminder_sent_at"]:
            fail(f"the reminder of task {t['id']} is not marked sent")
    for task_id, n in delivered.items():
        fail(f"{n} delivery(ies) for task {task_id}, which is not a reminder task of this run")
    if not due:
        fail("no reminder fell due during the run")
    for d in hooks:
        body = json.loads(d["body"])
        if body.get("remind_at"):
            late.append(d["t"] - parse_time(body["remind_at"]))

    # The report.
    out = sys.stdout
    print("requests by status: " + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(by_status.items())), file=out)
    for what, n in excused.items():
        print(f"  {n} {what}", file=out)
    functions = Counter((r["function"], r["status"]) for r in requests)
    print("  by function: " + ", ".join(f"{f} {s or '-'}: {n}" for (f, s), n in sorted(functions.items())), file=out)
    if failed_fast:
        print(f"database outage: {len(outage)} request(s) overlapped it; {len(failed_fast)} answered 503 "
              f"in p50 {percentile(failed_fast, 0.5):.2f}s, max {max(failed_fast):.2f}s", file=out)
    if broker:
        slowest = max(r["t1"] - r["t0"] for r in broker)
        print(f"broker outage: {len(broker)} request(s) overlapped it, "
              f"{sum(200 <= r['status'] < 300 for r in broker)} answered 2xx; the slowest {slowest:.2f}s", file=out)
    print(f"writes: {len(created)} created, {updated} updated, {len(completed)} recurring completed; "
          f"{sum(children.values())} next occurrence(s), one each", file=out)
    print(f"events audited once: {sum(audited.values())} ("
          + ", ".join(f"{k} {v}" for k, v in sorted(audited.items())) + ")", file=out)
    if late:
        print(f"reminders: {len(due)} fell due, {len(hooks)} delivered, signed, once each; "
              f"after remind_at p50 {percentile(late, 0.5):.0f}s, max {max(late):.0f}s", file=out)
    if failures:
        shown = failures[:30]
        for f in shown:
            print(f"FAILED: {f}", file=sys.stderr)
        if len(failures) > len(shown):
            print(f"... and {len(failures) - len(shown)} more", file=sys.stderr)
        sys.exit(1)


def main():
    command = sys.argv[1]
    config = json.load(open(sys.argv[2]))
    if command == "drive":
        Driver(config, sys.argv[3], sys.argv[4]).run()
    elif command == "check":
        check(config, *sys.argv[3:8])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
