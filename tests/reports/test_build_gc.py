"""reports.build: the cycle collector is paused while a document is built, and always back after."""

from __future__ import annotations

import gc
import threading

import pytest
from flask import Flask

import reports.build
from reports.build import build_report
from reports.render import cycle_collection_paused
from survey.waves import get_wave
from tests.pdf import pdf_text
from tests.reports.conftest import ISSUED


@pytest.fixture
def restore_gc():
    enabled = gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()


def test_the_collector_is_off_during_a_build_and_on_after(demo, monkeypatch, restore_gc):
    gc.enable()
    seen = []
    real = reports.build.html_to_pdf

    def printing(html, **kwargs):
        seen.append(gc.isenabled())
        return real(html, **kwargs)

    monkeypatch.setattr(reports.build, "html_to_pdf", printing)
    pdf = build_report(get_wave("2026Q3-city"), "board", ISSUED)
    assert pdf.startswith(b"%PDF-") and "结果公示" in pdf_text(pdf)
    assert seen == [False] and gc.isenabled()


def test_the_collector_is_back_after_a_failed_build(demo, monkeypatch, restore_gc):
    gc.enable()

    def failing(html, **kwargs):
        raise RuntimeError("no printer")

    monkeypatch.setattr(reports.build, "html_to_pdf", failing)
    with pytest.raises(RuntimeError):
        build_report(get_wave("2026Q3-city"), "board", ISSUED)
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off(restore_gc):
    gc.disable()
    with cycle_collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_two_threads_building_keep_it_off_until_the_last_is_done(restore_gc):
    gc.enable()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    states = {}

    def first():
        with cycle_collection_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with cycle_collection_paused():
            second_in.set()
            first_out.wait(5)
            states["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert states == {"after the first ended": False} and gc.isenabled()


def test_inside_a_request_the_collector_is_left_alone(restore_gc):
    """The web process never switches the collector off: a build inside a request (a job in Huey's
    immediate mode) leaves it as it is. (A bare Flask app: any request context counts, and this
    module's demo holds its database, so a test database of its own would wait on it on PostgreSQL.)"""
    gc.enable()
    with Flask(__name__).test_request_context("/admin/"):
        with cycle_collection_paused():
            assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
