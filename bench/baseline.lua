-- wrk script for the floor of bench/load.py: each connection alternates GET /form and POST /insert,
-- the two requests of a submission with no logic (bench/baseline_app.py). One connection per
-- thread (-t N -c N), so that request() and response() alternate and a pair can be counted.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local body = "safety=A&night_safety=B&sat_police=A&sat_justice=C&sat_mediation=B&sat_prevention=A&sex=F&age_group=45-59"
local get_req, post_req = nil, nil
local next_is_post = false
pairs_done, bad = 0, 0

function init(args)
  get_req = wrk.format("GET", "/form")
  post_req = wrk.format("POST", "/insert", {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function request()
  if next_is_post then return post_req end
  return get_req
end

function response(status, headers, resp)
  if status ~= 200 then bad = bad + 1 end
  if next_is_post and status == 200 then pairs_done = pairs_done + 1 end
  next_is_post = not next_is_post
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("LOAD_RESULT") or "/dev/stdout", "w")
  local p, b = 0, 0
  for _, thread in ipairs(threads) do
    p = p + thread:get("pairs_done")
    b = b + thread:get("bad")
  end
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "pairs": %d, "bad": %d, "socket_errors": %d, "status_errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.duration, summary.requests, p, b,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
  out:close()
end
