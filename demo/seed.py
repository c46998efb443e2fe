"""Loading the demo city through the product's own importers.

The generated data goes the way an office's data would: CSV files in the formats of
docs/formats.md written to a temporary directory, then `import_units`,
`load_questionnaire`, `create_wave`, `import_responses` and the wave transitions.
The same seed gives the same city, population and answers (the passwords are
random every time).
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from flask import current_app
from sqlalchemy import select

from admin.accounts import INITIAL_PASSWORD_FILE, create_user, new_password
from demo.city import City, build_city
from demo.model import COLUMNS, ITEM_KEYS, TARGET_N, WAVES, Levels, WavePlan, draw_levels, wave_responses
from errors import PinganError
from extensions import db
from models import Unit, User, Wave
from survey.questionnaires import load_questionnaire
from survey.responses import import_responses
from survey.units import import_units
from survey.waves import create_wave, transition

DEFAULT_SEED = 2026
QUESTIONNAIRE = Path(__file__).with_name("questionnaire.yaml")
PASSWORD_FILE = INITIAL_PASSWORD_FILE  # deleted once that password is changed (admin.accounts)
SERIES = "safety"

# username, role, scope (unit code), display name, how the login is announced
ACCOUNTS = (
    ("admin", "admin", None, "系统管理员", "管理员账号"),
    ("qingshi", "county", "619921", "青石县综治办", "县(区)账号"),
    ("office", "office", None, "市平安创建办", "创建办账号"),
)

Echo = Callable[[str], None]


@dataclass
class SeedResult:
    city: City
    levels: Levels
    waves: list[Wave] = field(default_factory=list)
    responses: dict[str, int] = field(default_factory=dict)  # wave slug → forms imported
    passwords: dict[str, str] = field(default_factory=dict)  # username → password (new accounts only)
    seconds: float = 0.0


def demo_exists() -> bool:
    """True as soon as the database holds any unit: the demo only ever goes into an empty one."""
    return db.session.scalar(select(Unit.id).limit(1)) is not None


def password_file() -> Path:
    return Path(current_app.instance_path) / PASSWORD_FILE


def saved_admin_password() -> str | None:
    path = password_file()
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def _write_csv(path: Path, header: tuple[str, ...], rows) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _save_admin_password(password: str) -> Path:
    path = password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have had looser permissions
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(password + "\n")
    return path


def seed_demo(seed: int = DEFAULT_SEED, echo: Echo = print) -> SeedResult:
    """Create the demo city, its three waves of the `safety` series and the office accounts,
    then analyse the closed waves and publish the first (when `survey.results` is there)."""
    started = time.perf_counter()
    if demo_exists():
        raise PinganError("数据库里已经有单位了;演示数据只能装入空数据库(已有数据时可用 --if-empty 跳过)", code="not_empty")
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2 + len(WAVES))]
    city = build_city(rngs[0])
    result = SeedResult(city, draw_levels(rngs[1], city))
    with tempfile.TemporaryDirectory(prefix="pingan-demo-") as tmp:
        _load_city(result, Path(tmp), echo)
        slug = _load_questionnaire(echo)
        for plan, rng in zip(WAVES, rngs[2:]):
            _load_wave(result, plan, slug, rng, Path(tmp), echo)
    _create_accounts(result, echo)
    analyse_and_publish(result.waves)
    echo(f"已分析 {WAVES[0].slug}、{WAVES[1].slug}并下发约谈名单；已发布 {WAVES[0].slug}")
    result.seconds = time.perf_counter() - started
    return result


def _load_city(result: SeedResult, tmp: Path, echo: Echo) -> None:
    city, levels = result.city, result.levels
    units_csv = _write_csv(tmp / "units.csv", ("code", "name", "kind", "parent_code"), city.unit_rows())
    population_csv = _write_csv(
        tmp / "population.csv", ("unit_code", "dimension", "category", "count"), city.population_rows()
    )
    echo(
        f"演示城市 {city.name}:{len(city.counties)} 个县(区),{len(city.towns)} 个乡镇(街道),"
        f"{len(city.villages)} 个村(社区),{len(city.departments)} 个部门"
    )
    echo(str(import_units(units_csv, population_csv)))
    weak, improving = ("、".join(t.name for t in city.towns if levels.story[t.code] == s) for s in ("weak", "improving"))
    echo(f"设定:持续薄弱的乡镇 {weak};二季度薄弱、整改后好转的 {improving}")


def _load_questionnaire(echo: Echo) -> str:
    version, _ = load_questionnaire(QUESTIONNAIRE)
    missing = set(ITEM_KEYS) - {item.key for item in version.items}
    if missing:
        raise PinganError(f"{QUESTIONNAIRE.name} 缺少演示数据要用的题目:{'、'.join(sorted(missing))}")
    echo(f"问卷:{version.slug} 第 {version.version} 版《{version.title}》")
    return version.slug


def _load_wave(
    result: SeedResult, plan: WavePlan, questionnaire: str, rng: np.random.Generator, tmp: Path, echo: Echo
) -> None:
    """Create and open the wave, import its forms from a CSV, close it unless it is the current one."""
    wave = create_wave(plan.slug, questionnaire, result.city.code, plan.period, SERIES, TARGET_N)
    transition(wave, "open")
    rows = wave_responses(rng, result.city, result.levels, plan)
    responses_csv = _write_csv(tmp / f"responses-{plan.period}.csv", COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
    summary = import_responses(wave.slug, responses_csv)
    if plan.closes:
        transition(wave, "close")
    result.waves.append(wave)
    result.responses[wave.slug] = summary.imported
    echo(f"{summary};状态:{wave.status_label}")


def _create_accounts(result: SeedResult, echo: Echo) -> None:
    """The admin, one county office and the creation office; the admin password also goes to instance/."""
    counties = dict(result.city.counties)
    for username, role, scope, display_name, label in ACCOUNTS:
        if db.session.scalar(select(User.id).where(User.username == username)) is not None:
            echo(f"{label}: {username} 已存在,未改动")
            continue
        password = new_password()
        create_user(username, password, role, scope, display_name)
        result.passwords[username] = password
        echo(f"{label}: {username}  密码: {password}" + (f"(只能看到{counties[scope]}的数据)" if scope else ""))
    if "admin" in result.passwords:
        path = _save_admin_password(result.passwords["admin"])
        echo(f"管理员密码已保存在 {path}(仅本机用户可读)")


def analyse_and_publish(waves: list[Wave]) -> None:
    """Analyse every closed wave in period order and issue its interview list, as the creation
    office does each quarter, then publish the earliest wave. Escalation to 重点管理 follows the
    previous wave's *issued* list (docs/method.md "Interview list"), so issuing each list before the
    next wave is analysed is what gives the demo's second wave its 重点管理 units."""
    from admin.cases import issue_interview_list
    from jobs.charts import warm
    from survey.results import run_analysis

    closed = sorted((w for w in waves if w.status == "closed"), key=lambda w: w.period_start)
    for wave in closed:
        run_analysis(wave)
        issue_interview_list(wave, None)
        if current_app.config.get("JOBS_WARM_CHARTS", True):
            warm(wave)  # the results page's charts, as the analysis job draws them
    accept_flagged(closed[0])  # publishing waits for the review (survey.waves.transition)
    transition(closed[0], "publish")


def accept_flagged(wave: Wave) -> int:
    """The demo's review of the wave's flagged sheets before it is published: the office looked at
    them and accepted them (they were counted in the analysis already; a flag never rejects). One
    audit entry says so."""
    from sqlalchemy import update

    import audit
    from extensions import db
    from models import Response

    accepted = db.session.execute(
        update(Response).where(Response.wave_id == wave.id, Response.review_status == "flagged")
        .values(review_status="accepted")
    ).rowcount
    audit.record("demo.review", "wave", wave.slug, None, {"accepted": accepted, "reason": "演示数据：复核后采纳"})
    db.session.commit()
    return accepted
