-- wrk script: POST one pre-built body per request, each wrk thread on its own slice of the file
-- (single-use assertions must never repeat), and print a JSON summary with p50/p95/p99.
-- Arguments after "--": body file, thread count, Authorization value ("" for none), Content-Type,
-- extra headers ("Name: value" joined by ";;", may be empty).
-- scripts/bench.py appends quota.lua (stop after N requests) or paced.lua (rate limit) when asked.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local bodies = {}
local i = 0

function init(args)
  local nthreads = tonumber(args[2])
  local all = {}
  for line in io.lines(args[1]) do all[#all + 1] = line end
  if #all < nthreads then
    bodies = all  -- a single replayable body (cache hit, MCP call): every thread sends it
  else
    for n = 1, #all do
      if (n - 1) % nthreads == tid then bodies[#bodies + 1] = all[n] end
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[4]
  if args[3] and #args[3] > 0 then wrk.headers["Authorization"] = args[3] end
  if args[5] and #args[5] > 0 then
    for pair in string.gmatch(args[5], "([^;]+)") do
      local name, value = string.match(pair, "^%s*([^:]+):%s*(.*)$")
      if name then wrk.headers[name] = value end
    end
  end
  if mode_init then mode_init(args) end
end

function request()
  i = i + 1
  if mode_request then mode_request() end
  return wrk.format(nil, nil, nil, bodies[((i - 1) % #bodies) + 1])
end

function done(summary, latency, requests)
  io.write(string.format(
    'XAA-BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
