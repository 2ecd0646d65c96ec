-- wrk script: POST /api/{user}/tasks, rotating over users (each with its own token, since the
-- token subject must equal the path user) and over task bodies.
--
--   wrk -t2 -c8 -d30s --latency -s scripts/bench/create.lua http://127.0.0.1:$PORT \
--       -- target/bench/create-tokens.txt
--
-- The tokens file has one "<user_id> <jwt>" per line (api.sh writes it with
-- `todo-local token`). Bodies: title, the marker description "created by scripts/bench"
-- (api.sh deletes those rows afterwards), 1-3 tags from the same sets as
-- create.pgbench.sql, a priority and a due date.

local users, bodies, n = {}, {}, 0

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  for line in io.lines(args[1] or "target/bench/create-tokens.txt") do
    local user, token = line:match("^(%S+)%s+(%S+)$")
    if user then
      users[#users + 1] = {
        path = "/api/" .. user .. "/tasks",
        headers = {
          ["Authorization"] = "Bearer " .. token,
          ["Content-Type"] = "application/json",
        },
      }
    end
  end
  assert(#users > 0, "no users in the tokens file")
  local tagsets = {
    '["work"]', '["errands", "home"]', '["home", "shopping", "work"]',
    '["finance"]', '["family", "kids"]', '["health"]',
  }
  local prios = { "P1", "P2", "P3", "P4", "high", "low" }
  local now = os.time()
  for i = 1, 64 do
    local due = os.date("!%Y-%m-%dT%H:%M:%SZ", now + (i * 97 % 60 - 1) * 86400)
    bodies[i] = string.format(
      '{"title": "Load test task %d", "description": "created by scripts/bench", '
        .. '"tags": %s, "priority": "%s", "due_at": "%s"}',
      i, tagsets[i % #tagsets + 1], prios[i % #prios + 1], due)
  end
  n = (tonumber(thread_no) or 1) * 7919
end

function request()
  n = n + 1
  local u = users[n % #users + 1]
  return wrk.format("POST", u.path, u.headers, bodies[n % #bodies + 1])
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
