-- mod_kv's GET written as a mod_magnet script, for lux and lighttpd alike (bench/plugins.py):
--   magnet.attract-raw-url-to = ( "kv.lua" ) under a condition on the prefix below.
-- GET /lua/kv/KEY answers the key's value as application/json, or 404.
--
-- Each run gets a fresh _ENV (in both servers), so a plain global would be lost; the store
-- is kept in the Lua state's real global table, reached through _G, and filled once per
-- state (one per lux worker, one per lighttpd process) with the value the benchmark stores
-- in mod_kv.
local prefix = "/lua/kv/"

local store = _G.kv_store
if not store then
    store = { k16 = "0123456789abcdef" }
    _G.kv_store = store
end

local path = lighty.r.req_attr["uri.path"]
local value = store[path:sub(#prefix + 1)]
if not value then
    return 404
end
lighty.r.resp_header["Content-Type"] = "application/json"
lighty.r.resp_body:set(value)
return 200
