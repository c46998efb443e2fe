"""Benchmark of the office console (issue 17, "Speed"): every console page on the demo city.

    .venv/bin/python -m bench.console [--repeats 3] [--per-route 40] [--database-url URL]

It seeds the demo city (`demo seed`, 安澜市: 4 counties, 28 towns, 90 villages, three waves) into a
fresh database (a temporary SQLite file unless --database-url names an empty database), then, for
the admin and for the county account `qingshi` (青石县 only), signs in through the login form and
walks the console as a browser would: from /admin/ it follows every link and form `action` that is
a GET under /admin/ (breadth first), and times every page it reaches, `--repeats` times each (a page slower than 3 s once), in
the process (Flask's test client: the whole WSGI stack, the database and the templates; no network).
Links to the same route past `--per-route` distinct URLs are counted but not opened (the demo has
90 villages: their pages are all the same view).

A download built by a background job (docs/jobs.md: the PDFs, the results workbook, the raw answer
sheets) answers with its job's page instead (303 to /admin/jobs/<id>, or 202/409 "正在生成"): that
answer is timed as a page of its own, and the job's page it points to is walked as any other page;
nothing waits for a job. No worker runs: the jobs stay queued, in a queue of their own in the
temporary directory (JOBS_QUEUE_URL), never in the repository's instance/.

It prints, per account, the number of pages, the slowest routes with their median and the page
that was slowest (its wall time and its CPU time, time.process_time: the machine is shared), and
ends with the slowest first request (the median hides a page slow only until a per-process cache
is warm) and the slowest median of all: `slowest_ms=<N> page=<path>`
(target ≤ 1000 ms: no page may do a job's work inline).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from html import unescape
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

ACCOUNTS = ("admin", "qingshi")
PASSWORD = "bench-console-password"
LINK = re.compile(r"""<(?:a|link)\b[^>]*\bhref\s*=\s*["']([^"']+)["']""", re.I)
FORM = re.compile(r"""<form\b([^>]*)>""", re.I)
ATTR = re.compile(r"""\b(method|action)\s*=\s*["']([^"']*)["']""", re.I)
SKIP = ("/admin/logout", "/admin/login")
SLOW_MS = 3000  # a page this slow is timed once


def links(html: str, base: str) -> list[str]:
    """Every GET target of a page: hrefs, and the action of every form whose method is GET."""
    found = [unescape(m.group(1)) for m in LINK.finditer(html)]
    for m in FORM.finditer(html):
        attrs = {k.lower(): v for k, v in ATTR.findall(m.group(1))}
        if attrs.get("method", "get").lower() == "get":
            found.append(unescape(attrs.get("action", "")) or base)
    out = []
    for href in found:
        url = urldefrag(urljoin(base, href))[0]
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/admin"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith(SKIP):
            out.append(path)
    return out


def sign_in(client, username: str) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    response = client.post("/admin/login", data={"csrf_token": token.group(1) if token else "",
                                                  "username": username, "password": PASSWORD})
    if response.status_code != 302:
        sys.exit(f"错误: {username} 无法登录 (HTTP {response.status_code})")


def walk(app, username: str, repeats: int, per_route: int) -> list[dict]:
    """Time every console page `username` can reach from /admin/."""
    adapter = app.url_map.bind("localhost")
    client = app.test_client()
    sign_in(client, username)
    seen: set[str] = set()
    per: dict[str, int] = defaultdict(int)
    queue = deque(["/admin/"])
    pages: list[dict] = []
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        try:
            endpoint = adapter.match(urlsplit(path).path, method="GET")[0]
        except Exception:  # noqa: BLE001 — a link the app does not serve by GET: not a page
            continue
        if per[endpoint] >= per_route:
            continue
        per[endpoint] += 1
        times, cpu = [], []
        response = None
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            response = client.get(path)
            body = response.get_data()
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            if times[0] > SLOW_MS:  # over the target many times: no need to confirm it
                break
        pages.append({"path": path, "endpoint": endpoint, "status": response.status_code,
                      "ms": statistics.median(times), "cpu_ms": statistics.median(cpu), "first_ms": times[0], "bytes": len(body), "type": response.mimetype})
        if response.status_code >= 500:
            print(f"  {response.status_code} {path}", file=sys.stderr)
        if response.mimetype == "text/html" and response.status_code in (200, 202, 409):
            queue.extend(p for p in links(body.decode("utf-8", "replace"), path) if p not in seen)
        if response.status_code in (302, 303) and "/admin/jobs/" in response.headers.get("Location", ""):
            queue.extend(p for p in links(f'<a href="{response.headers["Location"]}">', path) if p not in seen)
    return pages


def report(username: str, pages: list[dict]) -> dict:
    by_route: dict[str, list[dict]] = defaultdict(list)
    for p in pages:
        by_route[p["endpoint"]].append(p)
    statuses: dict[int, int] = defaultdict(int)
    for p in pages:
        statuses[p["status"]] += 1
    slowest = max(pages, key=lambda p: p["ms"])
    print(f"\n== {username}: {len(pages)} pages over {len(by_route)} routes; statuses "
          + ", ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
          + f"; median page {statistics.median(p['ms'] for p in pages):.0f} ms")
    print(f"  {'route':<42} {'pages':>5} {'median':>8} {'max':>8} {'its CPU':>8}  slowest page")
    ranked = sorted(by_route.items(), key=lambda kv: -max(p["ms"] for p in kv[1]))
    for endpoint, ps in ranked[:15]:
        worst = max(ps, key=lambda p: p["ms"])
        print(f"  {endpoint:<42} {len(ps):>5} {statistics.median(p['ms'] for p in ps):>6.0f} ms "
              f"{worst['ms']:>6.0f} ms {worst['cpu_ms']:>6.0f} ms  {worst['path']} ({worst['status']}, {worst['type']}, {worst['bytes']:,} B)")
    return slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed requests per page (median quoted)")
    parser.add_argument("--per-route", type=int, default=40, help="distinct URLs opened per route")
    parser.add_argument("--database-url", default=None, help="an EMPTY database to seed (default: temporary SQLite)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pingan-console-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'console.db'}"
    os.environ.setdefault("SECRET_KEY", "bench-console-secret")
    os.environ["JOBS_QUEUE_URL"] = str(tmp / "jobs-queue.db")  # jobs asked for here stay queued, here
    os.environ["JOBS_DIR"] = str(tmp / "jobs")
    from flask_migrate import upgrade
    from sqlalchemy import select
    from werkzeug.security import generate_password_hash

    from app import create_app
    from demo.seed import seed_demo
    from extensions import db
    from models import User

    app = create_app(instance_path=tmp)  # the seed's admin-password file goes here, not into instance/
    with app.app_context():
        upgrade()
        t = time.perf_counter()
        seed_demo(echo=lambda *_: None)
        print(f"demo city seeded in {time.perf_counter() - t:.1f} s into {os.environ['DATABASE_URL'].split('@')[-1]} "
              f"(load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores)")
        for user in db.session.scalars(select(User).where(User.username.in_(ACCOUNTS))):
            user.password_hash = generate_password_hash(PASSWORD)
        db.session.commit()
    worst, all_pages = [], []
    try:
        for username in ACCOUNTS:
            all_pages.append(walk(app, username, args.repeats, args.per_route))
            worst.append(report(username, all_pages[-1]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    slowest = max(worst, key=lambda p: p["ms"])
    print(f"\n(in-process timings, median of {args.repeats} requests per page; load average now "
          f"{os.getloadavg()[0]:.2f})")
    first = max((p for ps in all_pages for p in ps), key=lambda p: p["first_ms"])
    print(f"slowest page's CPU time (time.process_time, median): {slowest['cpu_ms']:.0f} ms")
    print(f"slowest first request (a per-process cache still cold): {first['first_ms']:.0f} ms {first['path']}")
    print(f"slowest_ms={slowest['ms']:.0f} page={slowest['path']}")


if __name__ == "__main__":
    main()
