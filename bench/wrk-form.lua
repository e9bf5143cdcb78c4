-- wrk script: one form POST, repeated. AUTH (the whole Authorization header value) and BODY
-- (the urlencoded form) come from the environment: introspection, token exchange.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("AUTH")
dofile("bench/wrk-report.lua")
