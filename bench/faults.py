"""Faults under load: nothing lost, nothing let in.

    .venv/bin/python -m bench.faults                             # about 60 s of load
    .venv/bin/python -m bench.faults --quick                     # about 15 s
    .venv/bin/python -m bench.faults --skip-postgresql-restart   # leave a shared cluster alone

1. A PostgreSQL database of its own (pingan_faults), migrated, with the test data's open wave.
2. gunicorn with gunicorn.conf.py (PROXY_COUNT=1) and simulated residents, one thread each with
   http.client: a resident GETs a village's questionnaire without cookies from an address of its
   own (X-Forwarded-For), then POSTs a valid answer sheet with the ticket (the form's only token)
   and the device cookie the page gave it. A POST whose connection fails, or that gets a 5xx or a 429, is sent
   again with the same ticket and cookies, as a phone resubmitting would, until a thank-you page
   comes or --give-up seconds have passed. One resident in ten also sends something that must
   store nothing: a forged ticket, an empty sheet, an oversized body, a second answer from the
   same phone, or its acknowledged POST again from another device.
3. The faults, one per phase: kill -9 one worker; kill -9 the whole server (master and workers)
   and start it again; restart PostgreSQL.
4. Afterwards every acknowledged idempotency key must be stored exactly once, and nothing else
   but POSTs the client gave up on.

The last line: `acknowledged=… stored=… duplicates=… lost=… unacknowledged_stored=…`. The exit
status is 1 when a response was lost, stored twice, or let in (bad input stored, or a row nobody
can account for), or when no submission was thanked again after a fault.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import random
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlsplit


from bench.harness import (  # noqa: E402
    Questionnaire,
    Server,
    app_env,
    fresh_database,
    prepare_in_process,
    resident_links,
    restart_postgresql,
    why_not_restart_postgresql,
)

THANKS = "提交成功"
ALREADY = "您已提交"
DEVICE_COOKIE = "pingan_device"  # survey.intake.DEVICE_COOKIE, spelled out: the client knows only HTTP
USER_AGENT = "Mozilla/5.0 (Linux; Android 10) fault-test"

_ACTION = re.compile(r'<form id="survey" method="post" action="([^"]+)"')
_TICKET = re.compile(r'name="ticket" value="([^"]+)"')

Say = Callable[[str], None]


# -- HTTP, as a phone's browser sees it ------------------------------------------------------------


class TransportError(Exception):
    """The request got no complete response; `kind` says how it failed."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def error_kind(exc: BaseException) -> str:
    # RemoteDisconnected is a ConnectionResetError: test it first, it says more (closed without a word).
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "closed"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, http.client.IncompleteRead):
        return "cut off"
    return type(exc).__name__


@dataclass
class Reply:
    status: int
    cookies: dict[str, str]
    text: str


class Connection:
    """One keep-alive connection to the server, opened again after any failure."""

    def __init__(self, base_url: str, timeout: float = 10) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Reply:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise TransportError(error_kind(exc)) from exc
        cookies = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            cookies[name.strip()] = value.strip()
        if response.will_close:
            self.close()
        return Reply(response.status, cookies, data.decode("utf-8", "replace"))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def idempotency_key(ticket: str) -> str:
    """The uuid in a ticket "<wave id>:<uuid>[:<device tag>].<timestamp>.<signature>": what the server stores."""
    return ticket.rsplit(".", 2)[0].split(":")[1]


@dataclass
class Form:
    """A questionnaire as a phone holds it: where it posts to, its hidden fields, its cookies."""

    ip: str
    action: str
    ticket: str
    cookies: dict[str, str]

    @property
    def key(self) -> str:
        return idempotency_key(self.ticket)

    def body(self, sheet: str, ticket: str | None = None) -> bytes:
        fields = f"ticket={quote(ticket or self.ticket, safe='')}"
        return (fields + ("&" + sheet if sheet else "")).encode()

    def headers(self, cookies: dict[str, str] | None = None) -> dict[str, str]:
        jar = self.cookies if cookies is None else cookies
        headers = {
            "X-Forwarded-For": self.ip,
            "User-Agent": f"{USER_AGENT} {self.ip}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        return headers


def parse_form(reply: Reply, ip: str) -> Form | None:
    """The form a GET of /s/<token> served, or None when the page is not a usable questionnaire."""
    action, ticket = (p.search(reply.text) for p in (_ACTION, _TICKET))
    if reply.status != 200 or not (action and ticket):
        return None
    cookies = {k: v for k, v in reply.cookies.items() if k == DEVICE_COOKIE}
    return Form(ip=ip, action=unescape(action.group(1)), ticket=unescape(ticket.group(1)), cookies=cookies)


# -- what the clients saw ------------------------------------------------------------------------


@dataclass
class Attempt:
    sent: float  # seconds since the load started
    done: float
    method: str
    outcome: str  # "ok" (a usable form), "thanks", "already", a status code, or how the connection failed


def is_error(outcome: str) -> bool:
    return outcome not in ("ok", "thanks", "already")


class Recorder:
    """Everything the simulated residents saw, shared by their threads."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.acknowledged: dict[str, str] = {}  # idempotency key → "thanks" or "already"
        self.posted: set[str] = set()
        self.abandoned: set[str] = set()  # POSTed, never acknowledged before --give-up ran out
        self.rejected: Counter[str] = Counter()  # a valid sheet refused with a 4xx: never expected
        self.get_abandoned = 0
        self.refused_keys: set[str] = set()  # keys of bad input: none of them may be stored
        self.bad: Counter[tuple[str, str]] = Counter()  # (variant, verdict)
        self.in_flight = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def attempt(self, sent: float, method: str, outcome: str) -> None:
        with self.lock:
            self.attempts.append(Attempt(sent, self.now(), method, outcome))

    def acknowledge(self, key: str, page: str) -> None:
        with self.lock:
            self.acknowledged[key] = page

    def note(self, collection: str, item: str) -> None:
        with self.lock:
            getattr(self, collection).add(item)


@dataclass
class Settings:
    duration: float = 60  # seconds of load
    clients: int = 16
    give_up: float = 30  # a resident stops resending a POST after this long
    bad_share: float = 0.1  # residents who also send something that must store nothing
    restart_postgresql: bool = True
    server_down: float = 1.0  # between the crash and the start again (a supervisor's restart delay)
    fault_at: tuple[float, float, float] = (0.2, 0.45, 0.7)  # fractions of the duration
    seed: int = 1


class Resident:
    """One simulated phone after another, on one thread, until `stop` is set."""

    def __init__(self, base_url: str, questionnaire: Questionnaire, recorder: Recorder, settings: Settings,
                 seed: int) -> None:
        self.conn = Connection(base_url)
        self.q = questionnaire
        self.rec = recorder
        self.settings = settings
        self.rng = random.Random(seed)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.answer_once()
        finally:
            self.conn.close()

    def random_ip(self) -> str:
        r = self.rng.randrange
        return f"10.{r(256)}.{r(256)}.{r(1, 255)}"

    def answer_once(self) -> None:
        ip = self.random_ip()
        path = self.rng.choice(self.q.paths)
        sheet = self.rng.choice(self.q.answer_bodies)
        form = self.load_form(path, ip)
        if form is None:
            return
        bad = self.rng.random() < self.settings.bad_share
        if bad and self.rng.random() < 0.5:
            self.bad_before(form, sheet)
            bad = False
        with self.rec.lock:
            self.rec.in_flight += 1
        try:
            page = self.submit(form, sheet)
        finally:
            with self.rec.lock:
                self.rec.in_flight -= 1
        if bad and page == "thanks":
            self.bad_after(form, path, sheet)

    def load_form(self, path: str, ip: str) -> Form | None:
        """GET the questionnaire, reloading while the server fails (a resident would, a few times)."""
        deadline = time.monotonic() + self.settings.give_up
        delay = 0.1
        headers = {"X-Forwarded-For": ip, "User-Agent": f"{USER_AGENT} {ip}"}
        while True:
            sent = self.rec.now()
            try:
                reply = self.conn.request("GET", path, headers)
                form = parse_form(reply, ip)
                outcome = "ok" if form else str(reply.status)
            except TransportError as exc:
                form, outcome = None, exc.kind
            self.rec.attempt(sent, "GET", outcome)
            if form is not None:
                return form
            if time.monotonic() + delay > deadline:
                with self.rec.lock:
                    self.rec.get_abandoned += 1
                return None
            time.sleep(delay)
            delay = min(2 * delay, 1.0)

    def submit(self, form: Form, sheet: str) -> str:
        """POST until acknowledged, always with the same ticket and cookies; the page it ended on
        ("thanks", "already"), or "gave up", or the status of a refusal."""
        self.rec.note("posted", form.key)
        deadline = time.monotonic() + self.settings.give_up
        delay = 0.1
        body = form.body(sheet)
        while True:
            sent = self.rec.now()
            try:
                reply = self.conn.request("POST", form.action, form.headers(), body)
            except TransportError as exc:
                outcome = exc.kind
            else:
                outcome = page_kind(reply)
            self.rec.attempt(sent, "POST", outcome)
            if outcome in ("thanks", "already"):
                self.rec.acknowledge(form.key, outcome)
                return outcome
            if outcome.isdigit() and not retryable(int(outcome)):
                with self.rec.lock:
                    self.rec.rejected[outcome] += 1
                return outcome
            if time.monotonic() + delay > deadline:
                self.rec.note("abandoned", form.key)
                return "gave up"
            time.sleep(delay)
            # Backing off keeps a resubmitting phone under the 20-POSTs-a-minute limit per address.
            delay = min(2 * delay, 1.0)

    # Bad input: one try each, judged by the page it gets. A try that meets a fault (no response,
    # a 5xx, a 429) is counted as not judged; whatever happens, its key must not be stored.

    def bad_before(self, form: Form, sheet: str) -> None:
        variant = self.rng.choice(("forged ticket", "empty sheet", "oversized body"))
        if variant == "forged ticket":
            # Another uuid under this ticket's timestamp and signature: the signature no longer fits.
            wave = form.ticket.partition(":")[0]
            forged = f"{wave}:{uuid.uuid4()}." + form.ticket.split(".", 1)[1]
            self.rec.note("refused_keys", idempotency_key(forged))
            body, expected = form.body(sheet, ticket=forged), "400"
        elif variant == "empty sheet":
            body, expected = form.body(""), "422"
        else:
            body, expected = form.body(sheet + "&q_comment=" + "x" * 70_000), "413"
        self.judge(variant, expected, lambda: self.conn.request("POST", form.action, form.headers(), body))

    def bad_after(self, form: Form, path: str, sheet: str) -> None:
        variant = self.rng.choice(("replay from another device", "second answer, same phone"))
        if variant == "replay from another device":
            # The same POST without the device cookie: its key is stored, so the server thanks it
            # again and stores nothing.
            cookies: dict[str, str] = {}
            body = form.body(sheet)
            self.judge(variant, "thanks", lambda: self.conn.request("POST", form.action, form.headers(cookies), body))
            return
        # A fresh page (a new ticket) sent with the device cookie of the phone that has answered.
        fresh = self.load_form(path, form.ip)
        if fresh is None or DEVICE_COOKIE not in form.cookies:
            self.rec.bad[(variant, "not judged")] += 1
            return
        self.rec.note("refused_keys", fresh.key)
        cookies = {DEVICE_COOKIE: form.cookies[DEVICE_COOKIE]}
        body = fresh.body(sheet)
        self.judge(variant, "already", lambda: self.conn.request("POST", fresh.action, fresh.headers(cookies), body))

    def judge(self, variant: str, expected: str, send: Callable[[], Reply]) -> None:
        sent = self.rec.now()
        try:
            outcome = page_kind(send())
        except TransportError as exc:
            outcome = exc.kind
        # gunicorn drains at most 64 KiB of a body the app did not read, then closes the connection
        # although its 413 announced keep-alive: the next request on it would fail. A browser opens
        # another connection for that; so does this client, after any bad input.
        self.conn.close()
        met_fault = is_error(outcome) and (not outcome.isdigit() or retryable(int(outcome)))
        # In the phase tables a refusal of bad input is a success, and a replay's thanks no new one.
        self.rec.attempt(sent, "POST", outcome if met_fault else "ok")
        if outcome == expected:
            verdict = "as expected"
        elif outcome == "thanks":
            verdict = "LET IN"
        elif met_fault:
            verdict = "not judged"
        else:
            verdict = f"unexpected {outcome}"
        with self.rec.lock:
            self.rec.bad[(variant, verdict)] += 1


def page_kind(reply: Reply) -> str:
    if reply.status == 200 and THANKS in reply.text:
        return "thanks"
    if reply.status == 200 and ALREADY in reply.text:
        return "already"
    return str(reply.status)


def retryable(status: int) -> bool:
    """Statuses a phone sends the same POST again after: the server's failures and the rate limit."""
    return status >= 500 or status == 429


# -- the faults ----------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    at: float  # seconds since the load started
    back: float | None = None  # when the server (or the worker, or PostgreSQL) was up again
    note: str = ""
    skipped: bool = False


def kill_worker(server: Server) -> str:
    before = server.worker_pids()
    pid = server.kill_worker()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = server.worker_pids()
        if pid not in now and len(now) >= len(before):
            return f"kill -9 worker {pid} (of {len(before)}); gunicorn forked a new one"
        time.sleep(0.05)
    return f"kill -9 worker {pid}; no replacement within 30 s"


def crash_server(server: Server, down: float) -> str:
    workers = len(server.worker_pids())
    server.kill()
    time.sleep(down)
    server.start()
    return f"kill -9 the server (master and {workers} workers), {down:.0f} s down, started again"


def restart_cluster() -> str:
    restart_postgresql()
    return "PostgreSQL restarted (pg_ctlcluster restart -m fast)"


def inject_faults(server: Server, settings: Settings, rec: Recorder, stop_at: float, say: Say) -> list[Fault]:
    """The three faults at their times in the load; each one's start and when it was over."""
    why_not = None if settings.restart_postgresql else "--skip-postgresql-restart"
    why_not = why_not or why_not_restart_postgresql()
    plan: list[tuple[str, Callable[[], str] | None]] = [
        ("worker killed", lambda: kill_worker(server)),
        ("server killed", lambda: crash_server(server, settings.server_down)),
        ("postgresql restarted", None if why_not else restart_cluster),
    ]
    faults: list[Fault] = []
    previous_back = 0.0
    for (name, action), fraction in zip(plan, settings.fault_at):
        # A phase lasts at least two seconds after the previous fault is over, whatever the schedule.
        at = max(fraction * settings.duration, previous_back + 2)
        time.sleep(max(0.0, at - rec.now()))
        fault = Fault(name, rec.now())
        if action is None:
            fault.skipped, fault.note, fault.back = True, f"skipped: {why_not}", fault.at
        else:
            fault.note = action()
            fault.back = rec.now()
        took = "" if fault.skipped else f" (over after {fault.back - fault.at:.1f} s)"
        say(f"{fault.at:6.1f} s  {fault.note}{took}")
        faults.append(fault)
        previous_back = fault.back
    # Load goes on for a few seconds after the last fault, so that recovery is seen under load.
    time.sleep(max(0.0, max(stop_at, previous_back + 3) - rec.now()))
    return faults


@dataclass
class Run:
    recorder: Recorder
    faults: list[Fault]
    stopped_at: float
    in_flight_at_stop: int
    drained_at: float

    def unhealed(self) -> list[str]:
        """The faults after which no POST was thanked again: the service did not recover."""
        return [f.name for f in self.faults if not f.skipped and not any(
            a.outcome == "thanks" and a.sent >= f.at for a in self.recorder.attempts)]


def run_load_with_faults(server: Server, questionnaire: Questionnaire, settings: Settings, say: Say = print) -> Run:
    """Residents on `settings.clients` threads for `settings.duration` s while the faults happen; then
    wait for every resident to be acknowledged or give up."""
    rec = Recorder()
    stop = threading.Event()
    residents = [Resident(server.url, questionnaire, rec, settings, settings.seed * 1000 + i)
                 for i in range(settings.clients)]
    threads = [threading.Thread(target=r.run, args=(stop,), name=f"resident-{i}", daemon=True)
               for i, r in enumerate(residents)]
    say(f"{0:6.1f} s  load starts: {settings.clients} residents")
    for t in threads:
        t.start()
    try:
        faults = inject_faults(server, settings, rec, settings.duration, say)
    finally:
        stop.set()
    stopped_at = rec.now()
    with rec.lock:
        in_flight = rec.in_flight
    say(f"{stopped_at:6.1f} s  load stops; {in_flight} submissions not yet acknowledged")
    for t in threads:
        # A resident in the middle of a submission keeps resending it for at most --give-up seconds.
        t.join(timeout=settings.give_up + 20)
    drained_at = rec.now()
    say(f"{drained_at:6.1f} s  every resident done" + ("" if not any(t.is_alive() for t in threads)
                                                       else " (some threads still stuck!)"))
    return Run(rec, faults, stopped_at, in_flight, drained_at)


# -- the verdict ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    acknowledged: int
    stored: int
    duplicates: int  # idempotency keys stored more than once
    device_duplicates: int  # devices with more than one response
    lost: int  # acknowledged, not stored
    unacknowledged_stored: int
    abandoned_stored: int  # of those: POSTs the client gave up on (explained)
    let_in: int  # of those: bad input
    unexplained: int  # of those: neither

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.device_duplicates or self.lost or self.let_in or self.unexplained)

    def line(self) -> str:
        return (f"acknowledged={self.acknowledged} stored={self.stored} duplicates={self.duplicates} "
                f"lost={self.lost} unacknowledged_stored={self.unacknowledged_stored}")


def check_database(database_url: str, slug: str, rec: Recorder) -> Verdict:
    """Compare what the database holds for the wave with what the clients were told."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        wave_id = conn.execute("SELECT id FROM waves WHERE slug = %s", (slug,)).fetchone()[0]
        counts = dict(conn.execute(
            "SELECT idempotency_key, count(*) FROM responses WHERE wave_id = %s GROUP BY idempotency_key",
            (wave_id,),
        ).fetchall())
        duplicates = conn.execute(
            "SELECT idempotency_key, count(*) FROM responses WHERE wave_id = %s"
            " GROUP BY idempotency_key HAVING count(*) > 1", (wave_id,),
        ).fetchall()
        device_duplicates = conn.execute(
            "SELECT device_hash, count(*) FROM responses WHERE wave_id = %s AND device_hash IS NOT NULL"
            " GROUP BY device_hash HAVING count(*) > 1", (wave_id,),
        ).fetchall()
    stored = set(counts)
    acknowledged = set(rec.acknowledged)
    extra = stored - acknowledged
    return Verdict(
        acknowledged=len(acknowledged),
        stored=sum(counts.values()),
        duplicates=len(duplicates),
        device_duplicates=len(device_duplicates),
        lost=len(acknowledged - stored),
        unacknowledged_stored=len(extra),
        abandoned_stored=len(extra & rec.abandoned),
        let_in=len(stored & rec.refused_keys),
        unexplained=len(extra - rec.abandoned - rec.refused_keys),
    )


# -- the report ----------------------------------------------------------------------------------


def fmt_counter(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counter.most_common()) or "none"


def report(run: Run, say: Say = print) -> None:
    """Per phase: requests, thank-you pages, errors the clients saw, and how long recovery took."""
    rec = run.recorder
    bounds = [("steady", 0.0)] + [(f.name + (" (skipped)" if f.skipped else ""), f.at) for f in run.faults]
    bounds.append(("after the load (retries)", run.stopped_at))
    say(f"\n{'phase':<31}{'from':>6}{'to':>6}{'requests':>10}{'thank-yous':>12}{'errors':>8}"
        "  errors seen by the clients")
    for i, (name, start) in enumerate(bounds):
        end = bounds[i + 1][1] if i + 1 < len(bounds) else run.drained_at + 1
        inside = [a for a in rec.attempts if start <= a.done < end]
        errors = Counter(f"{a.method} {a.outcome}" for a in inside if is_error(a.outcome))
        thanks = sum(1 for a in inside if a.outcome == "thanks")
        say(f"{name:<31}{start:6.1f}{min(end, run.drained_at):6.1f}{len(inside):10}{thanks:12}"
            f"{sum(errors.values()):8}  {fmt_counter(errors)}")
    say("")
    ends = [f.at for f in run.faults[1:]] + [run.drained_at + 1]
    for fault, end in zip(run.faults, ends):
        say(f"{fault.name}: {fault.note if fault.skipped else recovery(rec, fault, end)}")


def recovery(rec: Recorder, fault: Fault, end: float) -> str:
    """How the residents felt a fault: when their errors began and ended (before the next fault),
    and the first thank-you after the last of them: the recovery time. A fault can take a moment
    to bite (PostgreSQL finishes its checkpoint before it turns connections away), so the clock
    runs from the fault's start to that first thank-you, not to the first error."""
    errors = [a.done for a in rec.attempts if is_error(a.outcome) and fault.at <= a.done < end]
    if not errors:
        return "no error seen"
    last = max(errors)
    thanked = [a.done for a in rec.attempts if a.outcome == "thanks" and a.done > last]
    back = f"recovered +{min(thanked) - fault.at:.2f} s (first thank-you after them)" if thanked else "NEVER RECOVERED"
    return f"{len(errors)} errors from +{min(errors) - fault.at:.2f} s to +{last - fault.at:.2f} s; {back}"


_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Shutdown)): (.*)$")
_NOISE = re.compile(r'\(psycopg[\w.]*\) |connection failed: connection to server at "[^"]*", port \d+ failed: ')


def server_errors(log: Path) -> Counter[str]:
    """The requests that ended in an exception (Flask logs "Exception on <path>"), by the last
    exception of each, shortened."""
    found: Counter[str] = Counter()
    current: str | None = None
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for line in lines:
        if "ERROR in app: Exception on " in line:
            if current is not None:
                found[current] += 1
            current = "?"
        elif current is not None and (m := _EXCEPTION.match(line)):
            current = f"{m.group(1).rsplit('.', 1)[-1]}: {_NOISE.sub('', m.group(2))[:60].strip()}"
    if current is not None:
        found[current] += 1
    return found


def report_outcome(run: Run, verdict: Verdict, log: Path, say: Say = print) -> None:
    rec = run.recorder
    posts = Counter(a.outcome for a in rec.attempts if a.method == "POST")
    say(f"\nsubmissions: {len(rec.posted)} answer sheets POSTed, {len(rec.acknowledged)} acknowledged "
        f"({sum(1 for v in rec.acknowledged.values() if v == 'already')} of them by a 您已提交 page), "
        f"{len(rec.abandoned)} given up, refused with a 4xx: {fmt_counter(rec.rejected)}; "
        f"form pages given up: {rec.get_abandoned}")
    say(f"POST attempts by outcome: {fmt_counter(posts)}")
    bad = Counter({f"{variant}: {verdict_}": n for (variant, verdict_), n in rec.bad.items()})
    say(f"bad input: {fmt_counter(bad)}")
    errors = server_errors(log)
    say(f"server log: {sum(errors.values())} requests ended in an exception"
        + (f": {fmt_counter(errors)}" if errors else ""))
    say(f"database: {verdict.stored} rows; duplicate keys {verdict.duplicates}, devices with two rows "
        f"{verdict.device_duplicates}; acknowledged but missing {verdict.lost}; stored but not acknowledged "
        f"{verdict.unacknowledged_stored} (given up by the client {verdict.abandoned_stored}, bad input let in "
        f"{verdict.let_in}, unexplained {verdict.unexplained})")


# -- putting it together -------------------------------------------------------------------------


def prepare_database(name: str, server: str | None = None) -> tuple[str, str, Questionnaire]:
    """A fresh database `name`, migrated, with an open wave; its URL, the wave's slug, the links."""
    database = fresh_database(name) if server is None else fresh_database(name, server)
    buffer = io.StringIO()
    try:
        # Alembic logs every migration step to stderr; keep it for when something goes wrong.
        with contextlib.redirect_stderr(buffer):
            slug = prepare_in_process(database)
    except Exception:
        print(buffer.getvalue(), file=sys.stderr)
        raise
    return database, slug, resident_links(database, slug, sheets=200)


def run_faults(database: str, slug: str, questionnaire: Questionnaire, settings: Settings, log: Path,
               say: Say = print) -> tuple[Run, Verdict]:
    """gunicorn on `database`, the load with its faults, the report, and the verdict."""
    server = Server("app:create_app()", app_env(database), log=log)
    server.start()
    try:
        say(f"gunicorn with gunicorn.conf.py at {server.url}, log {log}")
        run = run_load_with_faults(server, questionnaire, settings, say)
    finally:
        server.stop()
    verdict = check_database(database, slug, run.recorder)
    report(run, say)
    report_outcome(run, verdict, log, say)
    return run, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--quick", action="store_true", help="15 s of load")
    parser.add_argument("--clients", type=int, default=16, help="simulated residents at once (threads)")
    parser.add_argument("--give-up", type=float, default=30, help="seconds a resident keeps resending a POST")
    parser.add_argument("--bad-share", type=float, default=0.1, help="share of residents also sending bad input")
    parser.add_argument("--skip-postgresql-restart", action="store_true",
                        help="leave PostgreSQL alone (others use the cluster)")
    parser.add_argument("--database", default="pingan_faults", help="database to drop and create")
    parser.add_argument("--log", type=Path, default=Path("/tmp/pingan-faults-gunicorn.log"))
    args = parser.parse_args()
    settings = Settings(
        duration=15 if args.quick else args.duration,
        clients=args.clients,
        give_up=args.give_up,
        bad_share=args.bad_share,
        restart_postgresql=not args.skip_postgresql_restart,
    )
    args.log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    database, slug, questionnaire = prepare_database(args.database)
    print(f"database {args.database}: migrated, wave {slug} open, {len(questionnaire.paths)} village links "
          f"({time.perf_counter() - t0:.1f} s)")
    run, verdict = run_faults(database, slug, questionnaire, settings, args.log)
    if run.unhealed():
        print(f"NOT RECOVERED after: {', '.join(run.unhealed())}")
    print(verdict.line())
    sys.exit(0 if verdict.ok and not run.unhealed() else 1)


if __name__ == "__main__":
    main()
