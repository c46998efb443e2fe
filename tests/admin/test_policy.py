"""One access policy (policy.py), scope on every verb: each finding of issue 11 as an attack.

An admin scoped to 东城区 (510701) is that county's admin: it cannot create an account with an
empty or a wider scope, reset the city admin's password or touch 西山县's accounts, read 西山县's
audit entries, or re-parent 西山县's village into its own county by a units import. A county
account does not learn of another county's waves from a questionnaire's page or from a slug,
and a case is visible only when both its unit and its wave are.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

import policy
from errors import Forbidden, NotFound
from extensions import db
from models import AuditEntry, InterviewCase, Unit, User, Wave
from tests.admin.console import (  # noqa: F401  (fixtures)
    CITY,
    EAST,
    PASSWORD,
    WEST,
    city,
    city_template,
    client_for,
    field_error,
    invoke,
    post,
    text,
    token,
    user,
)

WEST_NAMES = ("西山县", "西山镇", "上坝村", "下坝村", "新建村", "白水乡", "高岭乡")


@pytest.fixture
def east_admin(city):
    """An admin scoped to 东城区, signed in."""
    invoke(city.test_cli_runner(), "user", "create", "east-admin", "--role", "admin", "--scope", EAST, "--password", PASSWORD)
    return client_for(city, "east-admin")


def unit(code: str) -> Unit:
    db.session.expire_all()
    return db.session.scalar(select(Unit).where(Unit.code == code))


def west_wave(city) -> Wave:
    invoke(city.test_cli_runner(), "wave", "create", "--slug", "west-only", "--questionnaire", "safety",
           "--scope", WEST, "--period", "2026Q4")
    return db.session.scalar(select(Wave).where(Wave.slug == "west-only"))


# --- accounts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role, scope", [("admin", ""), ("office", ""), ("admin", CITY), ("county", WEST), ("analyst", "510702001")])
def test_a_scoped_admin_cannot_create_an_account_with_an_empty_or_outside_scope(east_admin, role, scope):
    before = db.session.scalar(select(func.count()).select_from(User))
    response = post(east_admin, "/admin/users/new", {"username": "grab", "role": role, "scope": scope, "display_name": ""})
    assert response.status_code == 422
    assert field_error(response, "scope")
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert user("grab") is None


def test_a_scoped_admin_creates_accounts_inside_its_scope_only_offered_there(east_admin):
    page = east_admin.get("/admin/users/new").get_data(as_text=True)
    assert "全部单位（不限）" not in page and "西山县" not in page and "示例市" not in page
    response = post(east_admin, "/admin/users/new", {"username": "chengguan", "role": "county", "scope": "510701001", "display_name": ""})
    assert response.status_code == 200, text(response)
    assert user("chengguan").scope.code == "510701001"


def test_a_username_taken_outside_the_scope_is_refused_without_saying_so(east_admin):
    response = post(east_admin, "/admin/users/new", {"username": "west", "role": "county", "scope": EAST, "display_name": ""})
    assert response.status_code == 422 and field_error(response, "username") == "用户名不可用，请换一个"
    seen = post(east_admin, "/admin/users/new", {"username": "east", "role": "county", "scope": EAST, "display_name": ""})
    assert seen.status_code == 422 and "已存在" in field_error(seen, "username")


@pytest.mark.parametrize("action", ["password", "deactivate", "unlock", "activate"])
@pytest.mark.parametrize("target", ["admin", "west", "office"])
def test_a_scoped_admin_cannot_touch_accounts_outside_its_scope(east_admin, action, target):
    """The city admin's password (the finding), 西山县's account, an unscoped office account: 404."""
    victim = user(target)
    before = (victim.password_hash, victim.active, victim.failed_logins)
    response = post(east_admin, f"/admin/users/{victim.id}/{action}")
    assert response.status_code == 404
    db.session.expire_all()
    victim = user(target)
    assert (victim.password_hash, victim.active, victim.failed_logins) == before
    listing = text(east_admin.get("/admin/users"))
    assert target not in listing.split() and "east-admin" in listing


def test_a_scoped_admin_resets_the_password_of_its_own_countys_account(east_admin):
    old = user("east").password_hash
    response = post(east_admin, f"/admin/users/{user('east').id}/password")
    assert response.status_code == 200 and "只显示这一次" in text(response)
    db.session.expire_all()
    assert user("east").password_hash != old


# --- the audit log ------------------------------------------------------------------------------

def test_a_scoped_admin_reads_the_audit_entries_of_its_subtree_only(east_admin, city):
    west = client_for(city, "west")  # an entry about 西山县's account: its sign-in
    assert west.get("/admin/").status_code == 200
    body = text(east_admin.get("/admin/audit"))
    assert "东城区" in body or "510701" in body  # its own units' entries are there
    leaked = [n for n in WEST_NAMES if n in body]
    assert not leaked, leaked
    for query in ("?entity=unit&entity_id=510702001001", "?entity=user", "?entity=questionnaire", "?entity=wave"):
        body = text(east_admin.get("/admin/audit" + query))
        assert not [n for n in WEST_NAMES if n in body] and "510702" not in body, query
    assert "questionnaire.create" not in text(east_admin.get("/admin/audit?entity=questionnaire"))
    # every entry the page can show lies in the subtree
    scoped = user("east-admin")
    shown = db.session.scalars(select(AuditEntry).where(policy.audit_clause(scoped))).all()
    assert shown and all(e.unit_path.startswith(unit(EAST).path) for e in shown)
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.unit_path.is_(None))) > 0


def test_audit_record_fills_the_unit_path_of_what_it_names(city):
    paths = dict(db.session.execute(
        select(AuditEntry.entity_id, AuditEntry.unit_path).where(AuditEntry.entity == "unit", AuditEntry.action == "unit.create")
    ).all())
    assert paths["510702001001"] == "/510700/510702/510702001/510702001001/"
    wave_paths = set(db.session.scalars(select(AuditEntry.unit_path).where(AuditEntry.entity == "wave")))
    assert wave_paths == {"/510700/"}
    assert user("west").scope.path == db.session.scalar(
        select(AuditEntry.unit_path).where(AuditEntry.action == "user.create", AuditEntry.entity_id == "west"))
    assert db.session.scalar(
        select(AuditEntry.unit_path).where(AuditEntry.action == "user.create", AuditEntry.entity_id == "admin")) is None


# --- units ------------------------------------------------------------------------------------

def upload_units(client, body: str):
    data = {"csrf_token": token(client), "units": (io.BytesIO(body.encode()), "units.csv")}
    return client.post("/admin/units/import", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("row", [
    "510702001001,上坝村,village,510701001",  # 西山县's village re-parented into 东城区 (the finding)
    "510702001,西山镇,town,510701",  # a town of 西山县 moved in
    "510701001001,东门社区,village,510702001",  # its own village moved out to 西山县
    "510799,新区,county,510700",  # a new county beside its own
    "510788,新市,city,",  # a new root
    "510701,东城区,county,510703",  # its own county moved under another
    "510701009,新镇,town,510799",  # a parent that does not exist: the same answer as one outside
])
def test_a_scoped_admin_imports_and_moves_units_inside_its_subtree_only(east_admin, row):
    before = {u.code: (u.name, u.path) for u in db.session.scalars(select(Unit))}
    response = upload_units(east_admin, "code,name,kind,parent_code\n" + row + "\n")
    assert response.status_code in (400, 422), response.status_code
    assert "units.csv:2:" in text(response) and "管辖范围" in text(response)
    db.session.expire_all()
    assert {u.code: (u.name, u.path) for u in db.session.scalars(select(Unit))} == before
    # no account of 东城区 reads the village afterwards
    assert client_for(east_admin.application, "east").get("/admin/units/510702001001").status_code == 404


def test_a_scoped_admin_imports_a_village_into_its_own_town(east_admin):
    body = "code,name,kind,parent_code\n510701002001,河东村,village,510701002\n510701001001,东门新社区,village,510701001\n"
    response = upload_units(east_admin, body)
    assert response.status_code == 302, text(response)
    assert unit("510701002001").path == "/510700/510701/510701002/510701002001/"
    assert unit("510701001001").name == "东门新社区"
    path = db.session.scalar(select(AuditEntry.unit_path).where(AuditEntry.entity_id == "510701002001"))
    assert path == "/510700/510701/510701002/510701002001/"  # the path it got, though written late


def test_a_population_file_naming_a_unit_outside_is_refused(east_admin):
    data = {
        "csrf_token": token(east_admin),
        "units": (io.BytesIO(b"code,name,kind,parent_code\n510701001001,\xe4\xb8\x9c\xe9\x97\xa8\xe7\xa4\xbe\xe5\x8c\xba,village,510701001\n"), "units.csv"),
        "population": (io.BytesIO("unit_code,dimension,category,count\n510702001001,sex,M,10\n".encode()), "population.csv"),
    }
    response = east_admin.post("/admin/units/import", data=data, content_type="multipart/form-data")
    assert response.status_code in (400, 422) and "population.csv:2:" in text(response)


def test_questionnaires_are_loaded_by_an_unscoped_admin_only(east_admin):
    assert east_admin.get("/admin/questionnaires/upload").status_code == 403
    assert "导入问卷" not in text(east_admin.get("/admin/questionnaires"))


# --- leaks of existence -----------------------------------------------------------------------

def test_a_questionnaires_page_lists_only_the_waves_the_account_sees(city):
    west = west_wave(city)
    city_wave = db.session.scalar(select(Wave).where(Wave.slug == "2026Q3-city"))
    east = client_for(city, "east")
    body = text(east.get("/admin/questionnaires/safety/1"))  # waves are listed by their titles
    assert city_wave.title in body and west.title not in body and "west-only" not in body
    assert west.title in text(client_for(city, "admin").get("/admin/questionnaires/safety/1"))


def test_a_slug_taken_in_another_county_is_refused_without_saying_so(city):
    west_wave(city)
    east = client_for(city, "east")
    data = {"slug": "west-only", "questionnaire": "safety", "scope": EAST, "period": "2026Q4", "series": "", "target_n": "50"}
    response = post(east, "/admin/waves/new", data)
    assert response.status_code == 422
    assert field_error(response, "slug") == "调查标识不可用，请换一个"
    assert "已存在" not in text(response) and "西山" not in text(response)
    # a slug the account can see is still named as taken
    seen = post(east, "/admin/waves/new", {**data, "slug": "2026Q3-city"})
    assert seen.status_code == 422 and "已被" in field_error(seen, "slug")
    assert db.session.scalar(select(func.count()).select_from(Wave).where(Wave.scope_unit_id == unit(EAST).id)) == 0


def test_a_case_is_visible_only_when_both_its_unit_and_its_wave_are(city):
    """A case of 东城区's village on 西山县's own wave (its village since moved, say): 东城区 sees
    the unit but not the wave, so the case answers 404 in the console as in the API."""
    from admin.cases import case_counts

    wave = west_wave(city)
    village = unit("510701001001")
    counted = case_counts(user("east")).by_status
    case = InterviewCase(wave_id=wave.id, unit_id=village.id, reason="bottom_n", rank=1)
    db.session.add(case)
    db.session.commit()
    east = client_for(city, "east")
    assert east.get(f"/admin/cases/{case.id}").status_code == 404
    assert post(east, f"/admin/cases/{case.id}/schedule", {"scheduled_for": "2026-12-01"}).status_code == 404
    assert "west-only" not in text(east.get("/admin/cases"))
    assert "west-only" not in text(east.get(f"/admin/units/{village.code}"))
    assert case_counts(user("east")).by_status == counted
    assert client_for(city, "admin").get(f"/admin/cases/{case.id}").status_code == 200


# --- the policy itself --------------------------------------------------------------------------

def test_the_policy_refuses_with_domain_errors(city):
    invoke(city.test_cli_runner(), "user", "create", "east-admin", "--role", "admin", "--scope", EAST, "--password", PASSWORD)
    scoped, city_admin, west_village = user("east-admin"), user("admin"), unit("510702001001")
    with pytest.raises(NotFound):
        policy.require(scoped, "users.manage", city_admin)
    with pytest.raises(NotFound):
        policy.require(scoped, "units.manage", west_village)
    with pytest.raises(Forbidden):
        policy.require(user("east"), "users.manage", user("east"))
    with pytest.raises(Forbidden):
        policy.require(scoped, "questionnaires.manage")
    assert policy.can(scoped, "units.manage", unit("510701001"))
    assert policy.can(scoped, "users.manage", User(role="admin", scope=unit("510701001")))
    assert not policy.can(scoped, "users.manage", User(role="admin", scope=None))
    assert policy.can(policy.SYSTEM, "users.manage", User(role="admin", scope=None))
    assert policy.can(city_admin, "audit.read") and not policy.can(user("office"), "audit.read")
    assert policy.permissions()["users.manage"] == frozenset({"admin"})
