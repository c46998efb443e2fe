-- wrk script for the floor of bench/load.py: POST one small row to the bare endpoint.
wrk.method = "POST"
wrk.path = "/insert"
wrk.body = "safety=A&night_safety=B&sat_police=A&sat_justice=C&sat_mediation=B&sat_prevention=A&sex=F&age_group=45-59"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

function done(summary, latency, requests)
  local out = io.open(os.getenv("LOAD_RESULT") or "/dev/stdout", "w")
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "socket_errors": %d, "status_errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.duration, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
  out:close()
end
