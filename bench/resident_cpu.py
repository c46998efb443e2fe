"""The app's own CPU per resident submission (GET the form + POST the answers), in one process.

    .venv/bin/python -m bench.resident_cpu                         # this tree, 2,000 submissions
    .venv/bin/python -m bench.resident_cpu --tree /tmp/oldload     # another tree (git archive of main)

bench/load.py measures the gunicorn workers under wrk; on a shared machine that figure moves with
the other engineers' load by a third or more. This one calls the Flask app's WSGI entry directly,
with no server, no client and no other thread, and times only the two calls with
`time.thread_time` (user + system CPU of this thread): the request environ is built before the
clock starts, and the page's ticket and device cookie are read after it stops. PostgreSQL and Redis
are the real ones (the database pingan_resident_cpu, made and seeded with the demo city on first use;
RATELIMIT_STORAGE_URI as for bench/load.py), so the statements and round trips are the product's.
Each simulated resident has an address of its own (X-Forwarded-For, PROXY_COUNT=1) and no cookies;
the first fifth of the submissions warm the caches and are not counted.

The last line: `tree=… submissions=… cpu_ms_mean=… cpu_ms_median=… get_ms=… post_ms=…`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote


def _tree() -> Path:
    """The source tree whose app this process imports (this one, or PYTHONPATH's when run again)."""
    import app

    return Path(app.__file__).resolve().parent



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=None, help="source tree whose app is measured (default: the one imported)")
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--database", default="pingan_resident_cpu", help="PostgreSQL database (made once, then reused)")
    parser.add_argument("--fresh", action="store_true", help="drop and seed the database again")
    args = parser.parse_args()

    tree = (args.tree or _tree()).resolve()
    if tree != _tree():  # that tree's app and harness: this file run again from inside it
        rest = ["--submissions", str(args.submissions), "--database", args.database] + (["--fresh"] if args.fresh else [])
        env = {**os.environ, "PYTHONPATH": str(tree)}
        run_file = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"  # the tree's own packages first
        raise SystemExit(subprocess.run([sys.executable, "-c", run_file, __file__, *rest], cwd=tree, env=env, check=False).returncode)
    from bench.harness import PG_SERVER, SECRET_KEY, fresh_database, open_wave_slug, prepare, resident_links

    url = f"{PG_SERVER}/{args.database}"
    try:
        slug = None if args.fresh else open_wave_slug(url)
    except Exception:  # noqa: BLE001 - no such database yet, or not seeded: make it
        slug = None
    if slug is None:
        slug = prepare(fresh_database(args.database), demo=True)
    questionnaire = resident_links(url, slug)
    os.environ.setdefault("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/15")
    os.environ.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY, PROXY_COUNT="1", PUBLIC_BASE_URL="http://127.0.0.1")
    from werkzeug.test import EnvironBuilder

    from app import create_app

    app = create_app()
    rng = random.Random()  # fresh addresses every run: a rerun must not meet its own earlier rows as a burst

    def call(environ: dict) -> tuple[float, str, list, bytes]:
        out: dict = {}

        def start_response(status, headers, exc_info=None):
            out["status"], out["headers"] = status, headers

        t0 = time.thread_time()
        body = app(environ, start_response)
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
        return time.thread_time() - t0, out["status"], out["headers"], data

    gets, posts = [], []
    for n in range(args.submissions):
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        headers = {"X-Forwarded-For": ip, "User-Agent": "Mozilla/5.0 (Linux; Android 10) resident-cpu " + ip}
        environ = EnvironBuilder(path=rng.choice(questionnaire.paths), headers=headers).get_environ()
        get_s, status, response_headers, body = call(environ)
        page = body.decode()
        if not status.startswith("200"):
            raise SystemExit(f"GET answered {status}")
        ticket = re.search(r'name="ticket" value="([^"]+)"', page).group(1)
        action = re.search(r'<form id="survey" method="post" action="([^"]+)"', page).group(1).replace("&amp;", "&")
        cookie = [v for k, v in response_headers if k == "Set-Cookie"][-1].split(";")[0]
        data = "ticket=" + quote(ticket, safe="") + "&" + rng.choice(questionnaire.answer_bodies)
        environ = EnvironBuilder(path=action, method="POST", data=data, content_type="application/x-www-form-urlencoded",
                                 headers={**headers, "Cookie": cookie}).get_environ()
        post_s, status, _, body = call(environ)
        if not (status.startswith("200") and "提交成功" in body.decode()):
            raise SystemExit(f"POST answered {status}, not the thank-you page")
        if n >= args.submissions // 5:
            gets.append(get_s)
            posts.append(post_s)
    both = [g + p for g, p in zip(gets, posts)]
    def ms(seconds: float) -> str:
        return f"{1000 * seconds:.3f}"

    print(f"tree={_tree()} submissions={len(both)} cpu_ms_mean={ms(statistics.mean(both))} "
          f"cpu_ms_median={ms(statistics.median(both))} get_ms={ms(statistics.mean(gets))} post_ms={ms(statistics.mean(posts))}")


if __name__ == "__main__":
    main()
