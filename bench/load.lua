-- wrk script for bench/load.py: simulated residents, each fetching the questionnaire and then
-- posting a valid answer sheet with the ticket (and the csrf token, if the page has one) and the
-- cookie the page set.
--
-- Run with one connection per thread (-t N -c N): then request() and response() strictly alternate
-- on a thread, which lets the script time every submission on its own (wrk's own latency figures
-- mix form fetches and submissions). Arguments: links file, answer-sheets file, out-prefix.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clk_id, timespec *tp);
]]
local ts = ffi.new("timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local links, sheets = {}, {}
local pending = nil -- the POST this thread's connection sends next
local sent_at, sent_kind = 0, nil
post_ms = {}        -- latencies of submissions (read by done() through thread:get)
get_ms = {}
thanked, rejected, get_errors, other = 0, 0, 0, 0
local keys_out = nil

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- The value of the attribute that follows `marker` (a literal) in `body`, found with plain string
-- searches: a Lua pattern is tried at every position of the 9-KB page, which made this client spend
-- about 0.2 ms more CPU per submission than the floor's on the same two cores (docs/performance.md).
local function value_after(body, marker)
  local _, stop = body:find(marker, 1, true)
  if not stop then return nil end
  local close = body:find('"', stop + 1, true)
  if not close or close == stop + 1 then return nil end -- none, or empty: as the pattern ([^"]+) said
  return body:sub(stop + 1, close - 1)
end

local function random_ip()
  return string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
end

function init(args)
  for line in io.lines(args[1]) do table.insert(links, line) end
  for line in io.lines(args[2]) do table.insert(sheets, line) end
  if args[3] then keys_out = io.open(args[3] .. "." .. id, "w") end
  math.randomseed(id * 7919 + os.time())
end

local ip = nil
local ticket = nil

function request()
  if pending then
    local r = pending
    pending = nil
    sent_kind = "post"
    sent_at = now_ms()
    return r
  end
  ip = random_ip()
  sent_kind = "get"
  sent_at = now_ms()
  return wrk.format("GET", links[math.random(#links)], {
    ["X-Forwarded-For"] = ip,
    ["User-Agent"] = "Mozilla/5.0 (Linux; Android 10) load-test " .. ip,
  })
end

function response(status, headers, body)
  local elapsed = now_ms() - sent_at
  if sent_kind == "get" then
    table.insert(get_ms, elapsed)
    local action = value_after(body, '<form id="survey" method="post" action="')
    local csrf = value_after(body, 'name="csrf_token" value="')
    ticket = value_after(body, 'name="ticket" value="')
    local cookie = headers["Set-Cookie"]
    -- wrk keeps only the last of several Set-Cookie headers: the device cookie when the page sets
    -- no session (the ticket is the form token), else Flask's session cookie, which it writes last.
    local session = cookie and cookie:match("^([^=;]+=[^;]+)")
    if status ~= 200 or not (action and ticket and session) then
      get_errors = get_errors + 1
      return
    end
    action = action:gsub("&amp;", "&")
    local form = "ticket=" .. urlencode(ticket) .. "&" .. sheets[math.random(#sheets)]
    if csrf then form = "csrf_token=" .. urlencode(csrf) .. "&" .. form end
    pending = wrk.format("POST", action, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = session,
      ["X-Forwarded-For"] = ip,
      ["User-Agent"] = "Mozilla/5.0 (Linux; Android 10) load-test " .. ip,
    }, form)
  else
    table.insert(post_ms, elapsed)
    if status == 200 and body:find("提交成功", 1, true) then
      thanked = thanked + 1
      if keys_out then keys_out:write(ticket, "\n") keys_out:flush() end
    elseif status >= 400 and status < 500 then
      rejected = rejected + 1
    else
      other = other + 1
    end
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("LOAD_RESULT") or "/dev/stdout", "w")
  local posts, gets = {}, {}
  local t, r, g, o = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("post_ms")) do table.insert(posts, v) end
    for _, v in ipairs(thread:get("get_ms")) do table.insert(gets, v) end
    t = t + thread:get("thanked")
    r = r + thread:get("rejected")
    g = g + thread:get("get_errors")
    o = o + thread:get("other")
  end
  out:write(string.format('{"duration_us": %d, "requests": %d, "socket_errors": %d, "status_errors": %d, ',
    summary.duration, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
  out:write(string.format('"thanked": %d, "rejected": %d, "get_errors": %d, "other": %d, ', t, r, g, o))
  out:write('"post_ms": [' .. table.concat(posts, ",") .. '], ')
  out:write('"get_ms": [' .. table.concat(gets, ",") .. ']}\n')
  out:close()
end
