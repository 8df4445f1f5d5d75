-- wrk script: POST one pre-built form body per request, each wrk thread on its own slice of the
-- file (single-use assertions must never repeat), and print a JSON summary with p50/p95/p99.
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
    bodies = all  -- a single replayable body (leg 1, cache hit): every thread sends it
  else
    for n = 1, #all do
      if (n - 1) % nthreads == tid then bodies[#bodies + 1] = all[n] end
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  if args[3] and #args[3] > 0 then wrk.headers["Authorization"] = args[3] end
end

function request()
  i = i + 1
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
