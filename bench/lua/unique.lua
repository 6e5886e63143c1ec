-- Requests a path never requested before: /miss/<run>/<counter>, where <run> differs between
-- wrk runs (warm-up, rounds, servers), so no cache of a server can have seen the path.
-- Every answer is a 404; the scenario shows whether a server's cost per request stays flat as
-- it meets ever more distinct names.
local prefix
local counter = 0

function init(args)
    math.randomseed(os.time())
    prefix = string.format("/miss/%d-%d/", os.time(), math.random(1000000000))
end

function request()
    counter = counter + 1
    return wrk.format("GET", prefix .. counter)
end
