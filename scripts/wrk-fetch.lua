-- wrk script: POST /v1/fetch for one URL (a cached verdict after the first request).
-- The URL comes from the environment (PORTCULLIS_URL); UNIQUE=1 makes every request a
-- different URL (a cold fetch), distinct across wrk threads, for the slow-origin test.
local url = os.getenv("PORTCULLIS_URL")
local unique = os.getenv("UNIQUE") == "1"
local threads = 0
local counter = 0
local id = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  id = wrk.thread:get("id") or 0
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local target = url
  if unique then
    counter = counter + 1
    target = url .. "?t=" .. id .. "-" .. counter
  end
  wrk.body = '{"url":"' .. target .. '","kind":"json"}'
  return wrk.format(nil, "/v1/fetch")
end
