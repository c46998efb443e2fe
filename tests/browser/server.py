"""Serving the app from a thread for the real-browser tests, and Debian's headless Chromium.

The same approach as test_resident_browser.py: the app runs on the test's own database,
served by werkzeug on a free port from a daemon thread; Chromium is /usr/bin/chromium driven by
Playwright (never `playwright install`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


class QuietHandler(WSGIRequestHandler):
    def log(self, *args, **kwargs) -> None:  # keep the test output for the test
        pass


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app at http://127.0.0.1:<free port> until the block ends."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
