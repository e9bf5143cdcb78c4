-- wrk script: one POST, repeated. AUTH (the whole Authorization header value), BODY and
-- CONTENT_TYPE (default: a urlencoded form) come from the environment: introspection, token
-- exchange, TMS.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = os.getenv("AUTH")
dofile("bench/wrk-report.lua")
