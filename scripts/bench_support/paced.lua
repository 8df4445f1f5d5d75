-- Appended to cycle.lua: pace each connection to a mean gap between requests (ms), with +-50 % jitter
-- so connections do not move in lockstep. wrk's delay() starts after the previous response, so the
-- achieved rate is a little below the nominal one; scripts/bench.py reports the achieved rate.
-- Extra argument: [6] mean delay per connection, ms.
local gap = 0

function mode_init(args)
  gap = tonumber(args[6])
  math.randomseed(tid + 1)
end

function delay()
  return gap * (0.5 + math.random())
end
