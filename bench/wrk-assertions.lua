-- wrk script: one pre-signed assertion per request, each with its own jti (so none is a replay),
-- sent as the form body PREFIX .. assertion: the JWT bearer grant (RFC 7523 §2.1,
-- PREFIX "grant_type=…jwt-bearer&assertion=") or private_key_jwt (§2.2,
-- PREFIX "grant_type=client_credentials&client_assertion_type=…&client_assertion=").
-- ASSERTIONS names the file, one assertion per line. Run with -t1: every thread would read the
-- same file from the start.
local assertions = {}
for line in io.lines(os.getenv("ASSERTIONS")) do assertions[#assertions + 1] = line end
local prefix = os.getenv("PREFIX")
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  i = i + 1
  if i > #assertions then i = 1 end
  return wrk.format(nil, nil, nil, prefix .. assertions[i])
end
dofile("bench/wrk-report.lua")
