-- wrk script: the JWT bearer grant (RFC 7523 §2.1), one pre-signed assertion per request (each
-- has its own jti, so none is a replay). ASSERTIONS names the file, one assertion per line.
-- Run with -t1: every thread would read the same file from the start.
local assertions = {}
for line in io.lines(os.getenv("ASSERTIONS")) do assertions[#assertions + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  i = i + 1
  if i > #assertions then i = 1 end
  return wrk.format(nil, nil, nil,
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&scope=assets%3Aread&assertion=" .. assertions[i])
end
dofile("bench/wrk-report.lua")
