-- wrk script: GET /api/bench-user/tasks with rotating query shapes.
--
--   wrk -t2 -c8 -d30s --latency -s scripts/bench/list.lua \
--       -H "Authorization: Bearer $TOKEN" http://127.0.0.1:$PORT \
--       -- <mode> scripts/bench/vocab.txt scripts/bench/tags.txt [user]
--
-- mode:
--   search  search term (every word of vocab.txt, 1- and 2-word queries) combined with
--           status / priority / tag / overdue filters and every sort_by / sort_order
--   filter  the same filters and sorts, no search
--   plain   search term only (default sort: created_at desc)
--
-- Terms and shapes rotate with co-prime periods so every (term, shape) pair comes up.
-- Prints one machine-readable line (RESULT ...) at the end for api.sh's summary.

local mode, terms, tags, user = "search", {}, {}, "bench-user"
local shapes, n = {}, 0

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    line = line:gsub("%s+$", "")
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

local function esc(s)
  return (s:gsub("[^%w%-%._~,]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

function init(args)
  mode = args[1] or mode
  terms = lines(args[2] or "scripts/bench/vocab.txt")
  tags = lines(args[3] or "scripts/bench/tags.txt")
  user = args[4] or user
  local day = 86400
  local now = os.time()
  local from = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 7 * day)
  local to = os.date("!%Y-%m-%dT%H:%M:%SZ", now + 7 * day)
  -- q: search term, t: tag, t2: another tag
  shapes = {
    function(q, t, t2) return "status=pending&priority=P1,P2&sort_by=due_at" end,
    function(q, t, t2) return "status=pending&sort_by=priority" end,
    function(q, t, t2) return "tag=" .. esc(t) .. "&sort_by=due_at&sort_order=desc" end,
    function(q, t, t2) return "tag=" .. esc(t .. "," .. t2) .. "&status=pending&sort_by=created_at" end,
    function(q, t, t2) return "priority=P3&sort_by=title" end,
    function(q, t, t2) return "status=completed&sort_by=updated_at" end,
    function(q, t, t2) return "overdue=true&sort_by=due_at" end,
    function(q, t, t2) return "due_after=" .. esc(from) .. "&due_before=" .. esc(to) .. "&sort_by=due_at" end,
    function(q, t, t2) return "sort_by=title&sort_order=desc&page=3" end,
    function(q, t, t2) return "" end,
    function(q, t, t2) return "priority=P1&sort_by=created_at&sort_order=asc" end,
  }
  -- spread the threads over the rotation
  n = (tonumber(thread_no) or 1) * 7919
end

function request()
  n = n + 1
  local nt = #terms
  local i = n % nt
  local term = terms[i + 1]
  if n % 3 == 0 then
    -- a two-word query (both words must match)
    term = term .. " " .. terms[(i * 7 + 13) % nt + 1]
  end
  local t = tags[n % #tags + 1]
  local t2 = tags[(n * 7 + 3) % #tags + 1]
  local query
  if mode == "plain" then
    query = "search=" .. esc(term)
  else
    local shape = shapes[(n % #shapes) + 1](term, t, t2)
    if mode == "search" then
      query = "search=" .. esc(term) .. (shape ~= "" and ("&" .. shape) or "")
    else
      query = shape
    end
  end
  local path = "/api/" .. user .. "/tasks" .. (query ~= "" and ("?" .. query) or "")
  return wrk.format("GET", path)
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
