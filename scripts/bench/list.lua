-- wrk script: GET /api/bench-user/tasks with rotating query shapes.
--
--   wrk -t2 -c8 -d30s --latency -s scripts/bench/list.lua \
--       -H "Authorization: Bearer $TOKEN" http://127.0.0.1:$PORT \
--       -- <mode> scripts/bench/vocab.txt scripts/bench/tags.txt scripts/bench/shapes.txt [user]
--
-- mode:
--   search  search term (every word of vocab.txt, 1- and 2-word queries) combined with
--           each shape of shapes.txt (status / priority / tag / due filters, every sort_by
--           and sort_order)
--   filter  the same shapes, no search
--   plain   search term only (default sort: created_at desc)
--
-- Terms and shapes rotate with co-prime periods so every (term, shape) pair comes up;
-- list-shapes.py walks the same rotation one request at a time and times each shape.
-- Prints one machine-readable line (RESULT ...) at the end for api.sh's summary.

local mode, terms, tags, user = "search", {}, {}, "bench-user"
local shapes, dates, n = {}, {}, 0

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
  user = args[5] or user
  local day = 86400
  local now = os.time()
  local from = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 7 * day)
  local to = os.date("!%Y-%m-%dT%H:%M:%SZ", now + 7 * day)
  shapes = {}
  for _, line in ipairs(lines(args[4] or "scripts/bench/shapes.txt")) do
    if line:sub(1, 1) ~= "#" then
      shapes[#shapes + 1] = line == "-" and "" or line
    end
  end
  dates = { from = esc(from), to = esc(to) }
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
    local values = { tag = esc(t), tag2 = esc(t2), from = dates.from, to = dates.to }
    local shape = shapes[(n % #shapes) + 1]:gsub("{(%w+)}", values)
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
