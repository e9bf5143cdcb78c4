-- wrk script: reads from the private token store `tessera-bench seed-private` filled, at random.
-- AUTH (the Authorization header), RELATED and KEYS (its shape) come from the environment;
-- PAGE=1 asks for a page of 100 by relatedId instead of one entry; PAGE=values, the same page
-- with its values (each one opened with the master key).
math.randomseed(os.time())
wrk.headers["Authorization"] = os.getenv("AUTH")
local related, keys = tonumber(os.getenv("RELATED")), tonumber(os.getenv("KEYS"))
local page = os.getenv("PAGE")
request = function()
  local r = math.random(0, related - 1)
  if page == "1" then
    return wrk.format("GET", string.format("/v1/private_tokens?relatedId=rel-%05d&page_size=100", r))
  elseif page == "values" then
    return wrk.format("GET", string.format("/v1/private_tokens?relatedId=rel-%05d&page_size=100&include_values=true", r))
  end
  return wrk.format("GET", string.format("/v1/private_tokens/rel-%05d/key-%02d", r, math.random(0, keys - 1)))
end
dofile("bench/wrk-report.lua")
