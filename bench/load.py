"""Load benchmark (issue 7): residents submitting through gunicorn into PostgreSQL, against the floor.

    .venv/bin/python -m bench.load                  # 30 s of load on each side (about 2 minutes in all)
    .venv/bin/python -m bench.load --duration 10    # a quicker look

1. A PostgreSQL database of its own (pingan_load), migrated, with the demo city and its open wave.
2. gunicorn with gunicorn.conf.py (PROXY_COUNT=1, rate limits in Redis when it answers, as in
   production), and wrk (bench/load.lua): each simulated resident, with an address of its own in
   X-Forwarded-For and no cookies, GETs one village's questionnaire, then POSTs a valid answer sheet
   with the csrf token, ticket and session cookie it got. One connection per wrk thread, so that
   the script times every submission itself. A short warm-up run comes first.
3. Afterwards the database must hold exactly one row per thank-you page the client saw.
4. The floor (issue 17): bench/baseline_app.py serving the same two requests with no logic (GET: a
   fixed page of the resident form's size from memory; POST: one row inserted through
   Flask-SQLAlchemy Core into the same PostgreSQL), under the same gunicorn settings, connections and
   time (bench/baseline.lua: each connection alternates the two). `ratio` = our submissions/s ÷ the
   floor's pairs/s.

CPU: the gunicorn workers' CPU time (/proc, user + system) over the measured run, per submission
(or per pair), printed beside the wall-clock figures: on a shared machine it is the steadier one.

With --profile, py-spy samples the workers (only threads holding the GIL: where the CPU goes)
during the measured run and prints the heaviest frames, inclusive; py-spy comes from
bench/requirements.txt (`make bench` installs it into .bench-packages/bin).

The last line: `submissions_per_s=… p50_ms=… p99_ms=… errors=… baseline_pairs_per_s=… ratio=…`, where
p50/p99 are of the submissions (POSTs) and errors counts every socket error, 5xx, unexpected 4xx
and form page that could not be used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from bench.harness import (  # noqa: E402
    ROOT,
    Server,
    app_env,
    fresh_database,
    prepare,
    resident_links,
)

BENCH = ROOT / "bench"


def redis_url() -> str | None:
    """Redis for the rate limits, as in production; None when no local Redis answers."""
    url = os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=1).ping()
    except Exception:  # noqa: BLE001 - any failure means: run without it, and say so
        return None
    return url


def wrk(url: str, script: Path, seconds: int, connections: int, args: list[str], result: Path) -> dict:
    env = dict(os.environ, LOAD_RESULT=str(result))
    cmd = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
           "-s", str(script), url, "--", *args]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(result.read_text())


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def count_rows(database_url: str, sql: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchone()[0]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


class WorkerCPU:
    """The gunicorn workers' CPU time (user + system, and system alone) between `start` and `stop`.

    gunicorn.conf.py recycles a worker after about 20,000 requests, which the floor reaches within a
    30-s run: a worker that exits takes its CPU time out of /proc/<pid>, and its replacement is a new
    pid. So the workers are listed again at the end, and an exited worker's time is read where the
    kernel puts it, in the master's time of waited-for children (cutime, cstime), less what the
    worker had used before the start. (Counting only the workers of the start read the floor's CPU
    per pair as 0.15–0.38 ms.)"""

    def __init__(self, server: Server) -> None:
        self.server = server

    def _read(self) -> tuple[dict[int, tuple[float, float]], tuple[float, float]]:
        tick = os.sysconf("SC_CLK_TCK")
        workers = {}
        for pid in self.server.worker_pids():
            fields = _stat(pid)
            if fields is not None:
                workers[pid] = ((int(fields[11]) + int(fields[12])) / tick, int(fields[12]) / tick)  # utime, stime
        master = _stat(self.server.proc.pid)
        children = ((int(master[13]) + int(master[14])) / tick, int(master[14]) / tick)  # cutime, cstime
        return workers, children

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> tuple[float, float]:
        """(CPU seconds, of which system) over the run."""
        (w0, c0), (w1, c1) = self.before, self._read()
        out = []
        for i in (0, 1):
            alive = sum(v[i] - w0.get(pid, (0.0, 0.0))[i] for pid, v in w1.items())
            exited_before = sum(v[i] for pid, v in w0.items() if pid not in w1)
            out.append(alive + (c1[i] - c0[i]) - exited_before)
        return out[0], out[1]


def page_bytes(url: str) -> int:
    """The size of one resident form page as served (what the floor's GET returns)."""
    import urllib.request

    request = urllib.request.Request(url, headers={"X-Forwarded-For": "10.255.255.1"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return len(reply.read())


def run_product(args, tmp: Path) -> dict:
    database = fresh_database("pingan_load")
    t0 = time.perf_counter()
    slug = prepare(database, demo=True)
    print(f"prepared the demo city, open wave {slug} ({time.perf_counter() - t0:.1f} s)")
    questionnaire = resident_links(database, slug)
    links, sheets = tmp / "links.txt", tmp / "sheets.txt"
    links.write_text("\n".join(questionnaire.paths) + "\n")
    sheets.write_text("\n".join(questionnaire.answer_bodies) + "\n")
    print(f"{len(questionnaire.paths)} village links, {len(questionnaire.answer_bodies)} answer sheets")

    limits = redis_url()
    extra = {"RATELIMIT_STORAGE_URI": limits} if limits else {}
    print(f"rate limits in {limits or 'memory (no Redis answered)'}")
    if limits:
        import redis

        redis.Redis.from_url(limits).flushdb()
    env = app_env(database, **extra)
    log = tmp / "gunicorn.log"
    with Server("app:create_app()", env, log=log, workers=args.workers, threads=args.threads) as server:
        size = page_bytes(server.url + questionnaire.paths[0])
        wrk(server.url, BENCH / "load.lua", 3, args.connections, [str(links), str(sheets)], tmp / "warmup.json")
        warm = count_rows(database, "SELECT count(*) FROM responses")
        keys = tmp / "keys"
        spy = start_profiler(server.proc.pid, args.duration, tmp / "profile.txt") if args.profile else None
        meter = WorkerCPU(server)
        meter.start()
        result = wrk(server.url, BENCH / "load.lua", args.duration, args.connections,
                     [str(links), str(sheets), str(keys)], tmp / "load.json")
        cpu, system = meter.stop()
        if spy is not None:
            spy.wait()
    after = count_rows(database, "SELECT count(*) FROM responses")
    seconds = result["duration_us"] / 1e6
    errors_5xx = sum(1 for line in log.read_text(errors="replace").splitlines() if "Traceback" in line)
    acknowledged = thanked_keys(tmp)
    stored_acknowledged = count_stored(database, acknowledged)
    return {
        "seconds": seconds,
        "requests": result["requests"],
        "thanked": result["thanked"],
        "stored": after - warm,
        "acknowledged": len(acknowledged),
        "stored_acknowledged": stored_acknowledged,
        "errors": result["socket_errors"] + result["status_errors"] + result["get_errors"] + result["rejected"]
        + result["other"],
        "tracebacks": errors_5xx,
        "post_ms": result["post_ms"],
        "get_ms": result["get_ms"],
        "page_bytes": size,
        "cpu_s": cpu,
        "system_s": system,
        "result": result,
    }


def py_spy() -> str | None:
    for candidate in (ROOT / ".bench-packages" / "bin" / "py-spy", Path(sys.executable).parent / "py-spy"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("py-spy")


def start_profiler(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    exe = py_spy()
    if exe is None:
        print("py-spy is missing (pip install py-spy): no profile")
        return None
    return subprocess.Popen(
        [exe, "record", "--gil", "--subprocesses", "--rate", "200", "--duration", str(seconds),
         "--format", "raw", "--output", str(out), "--pid", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def print_profile(path: Path, top: int = 30) -> None:
    """Inclusive share of the CPU samples per frame (file:line numbers dropped), heaviest first."""
    import collections
    import re

    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "handle_request" not in stack:  # gunicorn's own loop, not a request
            continue
        n = int(count)
        total += n
        for frame in {re.sub(r":\d+\)", ")", f) for f in stack.split(";")}:
            inclusive[frame] += n
    print(f"\nwhere the workers' CPU went ({total} samples holding the GIL, inclusive):")
    shown = 0
    for frame, n in inclusive.most_common():
        if frame.startswith(("process ", "Thread.", "_worker", "_WorkItem", "ThreadWorker.")):
            continue
        print(f"  {100 * n / total:5.1f}%  {frame}")
        shown += 1
        if shown == top:
            break


def thanked_keys(tmp: Path) -> set[str]:
    """The idempotency keys of the submissions the client saw a thank-you page for: each wrk
    thread logs its tickets (`<wave id>:<uuid>[:<device tag>].<time>.<signature>`, the uuid being the key)."""
    keys = set()
    for path in tmp.glob("keys.*"):
        for ticket in path.read_text().split():
            keys.add(ticket.split(".", 1)[0].split(":")[1])  # <wave id>:<uuid>[:<device tag>]
    return keys


def count_stored(database_url: str, keys: set[str]) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM responses WHERE idempotency_key = ANY(%s)", (list(keys),)
        ).fetchone()[0]


def run_baseline(args, tmp: Path, size: int) -> dict:
    import psycopg

    from bench.baseline_app import TABLE

    database = fresh_database("pingan_baseline")
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(TABLE)
    env = app_env(database, BASELINE_PAGE_BYTES=str(size))
    with Server("bench.baseline_app:create_app()", env, log=tmp / "baseline.log",
                workers=args.workers, threads=args.threads) as server:
        wrk(server.url, BENCH / "baseline.lua", 3, args.connections, [], tmp / "bwarm.json")
        meter = WorkerCPU(server)
        meter.start()
        result = wrk(server.url, BENCH / "baseline.lua", args.duration, args.connections, [], tmp / "baseline.json")
        result["cpu_s"], result["system_s"] = meter.stop()
    result["seconds"] = result["duration_us"] / 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds of load on each side")
    parser.add_argument("--connections", type=int, default=32, help="concurrent clients (one wrk thread each)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: gunicorn.conf.py)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--profile", action="store_true", help="sample the workers with py-spy during the run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (make bench installs it)")

    tmp = Path(tempfile.mkdtemp(prefix="pingan-load-"))
    try:
        ours = run_product(args, tmp)
        rate = ours["thanked"] / ours["seconds"]
        p50, p95, p99 = (percentile(ours["post_ms"], q) for q in (50, 95, 99))
        g50, g99 = percentile(ours["get_ms"], 50), percentile(ours["get_ms"], 99)
        print(f"\nproduct: {ours['requests']} requests in {ours['seconds']:.1f} s, {ours['thanked']} thank-you pages, "
              f"{ours['stored']} rows stored during the run")
        print(f"  submissions/s {rate:.0f}   submission latency p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms")
        print(f"  form fetch latency p50 {g50:.1f} ms  p99 {g99:.1f} ms  (page {ours['page_bytes']} bytes)")
        cpu_ms = 1000 * ours["cpu_s"] / max(1, ours["thanked"])
        print(f"  workers' CPU {ours['cpu_s']:.1f} s = {cpu_ms:.2f} ms per submission (GET + POST), "
              f"of which system {1000 * ours['system_s'] / max(1, ours['thanked']):.2f} ms")
        print(f"  errors {ours['errors']} (socket/status {ours['result']['socket_errors']}/{ours['result']['status_errors']}, "
              f"unusable form pages {ours['result']['get_errors']}, rejected {ours['result']['rejected']}, "
              f"other {ours['result']['other']}), server tracebacks {ours['tracebacks']}")
        lost = ours["acknowledged"] - ours["stored_acknowledged"]
        unacknowledged = ours["stored"] - ours["stored_acknowledged"]
        print(f"  every thank-you page is a stored row: {ours['stored_acknowledged']} of {ours['acknowledged']} "
              f"(lost {lost}); rows whose thank-you page the client did not wait for (in flight when wrk stopped, "
              f"at most one per connection): {unacknowledged}")
        errors = ours["errors"] + ours["tracebacks"] + lost + max(0, unacknowledged - 2 * args.connections)
        if args.profile and (tmp / "profile.txt").exists():
            print_profile(tmp / "profile.txt")

        if args.skip_baseline:
            print(f"\nsubmissions_per_s={rate:.0f} p50_ms={p50:.1f} p99_ms={p99:.1f} errors={errors}")
            return
        base = run_baseline(args, tmp, ours["page_bytes"])
        base_rate = base["pairs"] / base["seconds"]
        print(f"\nfloor (GET a fixed {ours['page_bytes']}-byte page + POST one Core insert): {base['pairs']} pairs "
              f"({base['requests']} requests) in {base['seconds']:.1f} s = {base_rate:.0f} pairs/s, "
              f"per request p50 {base['p50_us'] / 1000:.1f} ms  p99 {base['p99_us'] / 1000:.1f} ms, "
              f"errors {base['socket_errors'] + base['status_errors'] + base['bad']}; "
              f"workers' CPU {1000 * base['cpu_s'] / max(1, base['pairs']):.2f} ms per pair, "
              f"of which system {1000 * base['system_s'] / max(1, base['pairs']):.2f} ms")
        print(f"\nsubmissions_per_s={rate:.0f} p50_ms={p50:.1f} p99_ms={p99:.1f} errors={errors} "
              f"baseline_pairs_per_s={base_rate:.0f} ratio={rate / base_rate:.2f}")
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
