-- wrk script: a mixed task workload over the users of the tokens file: 40% creates, 30%
-- lists (filtered, sorted), 15% updates, 10% completions (of recurring tasks too, so the
-- next occurrence is made), 5% reads, the last three on that user's newest tasks. With a
-- delay (ms, the second argument) each connection waits that
-- long between requests: scripts/bench/soak.sh sets the rate that way.
--
--   wrk -t2 -c16 -d10s --latency -s scripts/bench/mixed.lua http://127.0.0.1:$PORT -- tokens.txt [delay_ms]
--
-- Prints "RESULT requests=... rps=... p50_ms=... p99_ms=... non2xx=... socket_errors=...".

local users, by_name, n, pause = {}, {}, 0, 0
local counter, threads = 0, {}

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do
    local name, token = line:match("^(%S+)%s+(%S+)$")
    if name then
      users[#users + 1] = {
        base = "/api/" .. name .. "/tasks",
        headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
        ids = {},
      }
      by_name[name] = users[#users]
    end
  end
  assert(#users > 0, "no users in the tokens file")
  pause = tonumber(args[2] or "0")
  n = (tonumber(thread_no) or 1) * 7919
end

function delay()
  return pause
end

local recurrences = { "null", '"daily"', '"weekly"' }
local lists = {
  "?status=pending&sort_by=due_at&page_size=20",
  "?priority=P1,P2&sort_by=priority&sort_order=desc",
  "?search=rent&status=all",
  "?tag=home&overdue=false",
}
function request()
  n = n + 1
  local user = users[n % #users + 1]
  local roll = math.floor(n / #users) % 20
  local ids = user.ids
  local id = #ids > 0 and ids[n % #ids + 1] or nil
  if id == nil or roll < 8 then
    local body = string.format(
      '{"title": "Soak task %d", "tags": ["home", "soak"], "priority": "P%d", '
        .. '"due_at": "%s", "recurrence": %s}',
      n, n % 4 + 1, os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 86400 + n % 5000),
      recurrences[n % #recurrences + 1])
    return wrk.format("POST", user.base, user.headers, body)
  elseif roll < 14 then
    return wrk.format("GET", user.base .. lists[n % #lists + 1], user.headers)
  elseif roll < 17 then
    return wrk.format("PATCH", user.base .. "/" .. id, user.headers,
      string.format('{"title": "Soak task %d, renamed"}', n))
  elseif roll < 19 then
    return wrk.format("PATCH", user.base .. "/" .. id .. "/complete", user.headers)
  else
    return wrk.format("GET", user.base .. "/" .. id, user.headers)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = (non2xx or 0) + 1
  elseif status == 201 then
    -- A create: keep a window of that user's newest tasks.
    local id = body:match('"id":"([0-9a-f-]+)"')
    local user = by_name[body:match('"user_id":"([^"]+)"') or ""]
    if id and user then
      if #user.ids >= 100 then table.remove(user.ids, 1) end
      user.ids[#user.ids + 1] = id
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    bad, e.connect + e.read + e.write + e.timeout))
end
