-- Appended to cycle.lua: each thread stops after its share of a fixed request count (like hey -n),
-- writing its first-request and stop times (ns, from `date`) to <marker dir>/<tid>; scripts/bench.py
-- waits for every thread's file, interrupts wrk and takes the rate from those times.
-- Extra arguments: [6] total requests, [7] marker directory.
local quota, marker, sent, answered = 0, "", 0, 0

local function now_ns()
  local p = io.popen("date +%s%N")
  local v = p:read("*l")
  p:close()
  return v
end

local started = nil

function mode_init(args)
  quota = math.floor(tonumber(args[6]) / tonumber(args[2]))
  marker = args[7] .. "/" .. tid
end

function mode_request()
  sent = sent + 1
  if started == nil then started = now_ns() end
end

function response(status, headers, body)
  answered = answered + 1
  if answered == quota then
    local f = io.open(marker, "w")
    f:write(started .. " " .. now_ns() .. " " .. answered .. "\n")
    f:close()
    wrk.thread:stop()
  end
end
