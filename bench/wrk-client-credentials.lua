-- wrk script: client_credentials token requests with client_secret_basic.
-- The peers' script without its per-response Lua callback: wrk already counts non-2xx answers
-- (summary.errors.status), and the callback costs the load generator CPU that, on a 2-core
-- machine, it takes from the server under test.
-- CLIENT_ID / CLIENT_SECRET come from the environment.
local id = os.getenv("CLIENT_ID") or "peer-client"
local secret = os.getenv("CLIENT_SECRET") or "peer-secret-0123456789abcdef0123456789abcdef"
local function b64(data)
  local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  return ((data:gsub('.', function(x)
    local r, byte = '', x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=assets%3Aread"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. b64(id .. ":" .. secret)
dofile("bench/wrk-report.lua")
