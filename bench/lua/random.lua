-- Requests /r/000.html .. /r/999.html in random order. The requests are formatted once per wrk
-- thread so the per-request cost on the client side is a table lookup, not string building.
-- Argument (after "--" on the wrk command line): the number of files, default 1000.
local reqs = {}
local threads = 0

-- setup() runs in the main Lua state once per thread; give each thread its own seed.
function setup(thread)
    threads = threads + 1
    thread:set("seed", threads)
end

function init(args)
    local n = tonumber(args[1]) or 1000
    for i = 0, n - 1 do
        reqs[#reqs + 1] = wrk.format("GET", string.format("/r/%03d.html", i))
    end
    math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
    return reqs[math.random(#reqs)]
end
