"""Superset access control as code: roles, demo users, row-level security, and which
roles see which dashboards.

The definitions live in superset_config/roles.yml. apply_access.py applies them inside
the Superset virtualenv (one Flask app start, ~10 s); setup_superset() runs it only when
a fingerprint of its inputs changed: the file, the Superset version, the demo password,
and what the metadata database holds (datasets and their columns, the managed roles'
permission counts, the demo users' password hashes, the dashboards with their roles,
charts' datasets and native filters), read here with psycopg in milliseconds. A new
dataset with a `region_name` column therefore gets its row-level filter (and, for a role
with `row_level_datasets`, its access) at the next setup, and a new dashboard its roles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

from metricstack.config import Settings

DEMO_PASSWORD_VARIABLE = "METRICSTACK_DEMO_PASSWORD"  # noqa: S105 (the name of the secret)
RLS_PREFIX = "metricstack: "
_ROLE_KEYS = {
    "like",
    "include",
    "exclude",
    "export",
    "databases",
    "schemas",
    "datasets",
    "exclude_datasets",
    "row_level_datasets",
    "dashboards",
}


class AccessDefinitionError(ValueError):
    """superset_config/roles.yml does not say what it must."""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    roles: tuple[str, ...]


def roles_file(settings: Settings) -> Path:
    return settings.project_dir / "superset_config" / "roles.yml"


def load_definition(settings: Settings) -> dict[str, Any]:
    """roles.yml, checked: every role key known, every role a user or filter names defined."""
    path = roles_file(settings)
    spec = yaml.safe_load(path.read_text()) or {}
    roles: dict[str, Any] = {name: body or {} for name, body in spec.get("roles", {}).items()}
    for name, body in roles.items():
        unknown = set(body) - _ROLE_KEYS
        if unknown:
            raise AccessDefinitionError(f"{path}: role {name!r}: unknown keys {sorted(unknown)}")
        dashboards = body.get("dashboards", [])
        if dashboards != "*" and not (
            isinstance(dashboards, list) and all(isinstance(d, str) for d in dashboards)
        ):
            raise AccessDefinitionError(
                f'{path}: role {name!r}: dashboards must be a list of slugs or "*"'
            )
    defined = set(roles) | {"Admin", "Alpha", "Gamma", "sql_lab", "Public"}
    users = spec.get("demo_users", [])
    rls = spec.get("row_level_security", [])
    named = [(f"user {u['username']}", r) for u in users for r in u["roles"]]
    named += [(f"filter {f['name']}", r) for f in rls for r in f["filters"]]
    for who, role in named:
        if role not in defined:
            raise AccessDefinitionError(f"{path}: {who}: role {role!r} is not defined")
    return {"roles": roles, "row_level_security": rls, "demo_users": users}


def demo_users_enabled(settings: Settings) -> bool:
    return settings.environ.get("METRICSTACK_SUPERSET_DEMO_USERS", "1") != "0"


def demo_password(settings: Settings) -> str:
    """The demo users' password (generated into secrets.env by config.py)."""
    return settings.secret(DEMO_PASSWORD_VARIABLE)


def demo_logins(settings: Settings) -> list[DemoLogin]:
    """The demo users (username, password, roles), for the CLI to print; none when
    METRICSTACK_SUPERSET_DEMO_USERS=0."""
    if not demo_users_enabled(settings):
        return []
    password = demo_password(settings)
    return [
        DemoLogin(user["username"], password, tuple(user["roles"]))
        for user in load_definition(settings)["demo_users"]
    ]


def refusal(output: str) -> str:
    """apply_access.py's refusal in its output (what follows its last "access: " line up
    to the runner's next line), or "" when it did not refuse."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("access: ")]
    if not starts:
        return ""
    found = [lines[starts[-1]].removeprefix("access: ")]
    for line in lines[starts[-1] + 1 :]:
        if " --- " in line:  # the runner's "<time> --- <step>: exit ..." line
            break
        found.append(line)
    return "\n".join(found).strip()


def _payload(settings: Settings) -> dict[str, Any]:
    definition = load_definition(settings)
    return {
        "roles": definition["roles"],
        "rls": definition["row_level_security"],
        "rls_prefix": RLS_PREFIX,
        "users": [
            {
                "username": login.username,
                "password": login.password,
                "roles": list(login.roles),
                "first_name": login.username.replace("_", " ").title(),
                "last_name": "(demo)",
                "email": f"{login.username}@demo.metricstack.invalid",
            }
            for login in demo_logins(settings)
        ],
    }


def payload_json(settings: Settings) -> str:
    """What apply_access.py reads on stdin (holds the demo password)."""
    return json.dumps(_payload(settings))


def _live_inputs(settings: Settings, payload: dict[str, Any]) -> list[Any]:
    """What the metadata database holds that applying depends on or changes."""
    columns = sorted({rule["column"] for rule in payload["rls"]})
    role_names = sorted(payload["roles"])
    usernames = sorted(u["username"] for u in payload["users"])
    with psycopg.connect(settings.superset_db_url, autocommit=True) as conn:
        if conn.execute("select to_regclass('tables')").fetchone() in (None, (None,)):
            return ["no metadata tables yet"]
        datasets = conn.execute(
            "select t.id, d.database_name, t.schema, t.table_name, t.perm, t.schema_perm,"
            " array(select c.column_name from table_columns c"
            "       where c.table_id = t.id and c.column_name = any(%s) order by 1)"
            " from tables t join dbs d on d.id = t.database_id order by t.id",
            (columns,),
        ).fetchall()
        roles = conn.execute(
            "select r.name, count(pr.id) from ab_role r"
            " left join ab_permission_view_role pr on pr.role_id = r.id"
            " where r.name = any(%s) group by r.name order by r.name",
            (role_names,),
        ).fetchall()
        users = conn.execute(
            "select u.username, u.password, u.active,"
            " array(select r.name from ab_user_role ur join ab_role r on r.id = ur.role_id"
            "       where ur.user_id = u.id order by 1)"
            " from ab_user u where u.username = any(%s) order by 1",
            (usernames,),
        ).fetchall()
        rls = conn.execute(
            "select f.name, f.clause, array(select table_id from rls_filter_tables ft"
            " where ft.rls_filter_id = f.id order by 1)"
            " from row_level_security_filters f where f.name like %s order by 1",
            (RLS_PREFIX + "%",),
        ).fetchall()
        # what dashboard_grant_problems reads and what applying sets: their roles
        dashboards = conn.execute(
            "select d.id, d.slug, md5(coalesce(d.json_metadata, '')),"
            " array(select r.name from dashboard_roles dr join ab_role r on r.id = dr.role_id"
            "       where dr.dashboard_id = d.id order by 1),"
            " array(select s.datasource_id from dashboard_slices ds"
            "       join slices s on s.id = ds.slice_id where ds.dashboard_id = d.id order by 1)"
            " from dashboards d order by d.id"
        ).fetchall()
    return [[list(row) for row in rows] for rows in (datasets, roles, users, rls, dashboards)]


def fingerprint(settings: Settings, superset_version: str) -> str:
    """Changes when applying would change something (see the module's docstring)."""
    payload = _payload(settings)
    digest = hashlib.sha256()
    digest.update(json.dumps(payload, sort_keys=True).encode())
    digest.update(superset_version.encode())
    digest.update(json.dumps(_live_inputs(settings, payload), default=str).encode())
    return digest.hexdigest()
