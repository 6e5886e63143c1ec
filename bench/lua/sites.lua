-- Spreads the requests evenly over several virtual hosts: the same path, a different Host header
-- each time, in turn. The requests are formatted once, so the client's cost per request is a
-- table lookup. Arguments (after "--" on the wrk command line): the path, then the host names.
local reqs = {}
local next_req = 0

function init(args)
    local path = args[1] or "/"
    for i = 2, #args do
        reqs[#reqs + 1] = wrk.format("GET", path, { Host = args[i] })
    end
    if #reqs == 0 then
        reqs[1] = wrk.format("GET", path)
    end
end

function request()
    next_req = next_req % #reqs + 1
    return reqs[next_req]
end
