"""Apply roles, demo users, row-level security filters and dashboard roles to Superset.

Runs INSIDE the Superset virtualenv, as a script (`python -I apply_access.py < JSON`):
it imports superset and nothing of metricstack. access.py builds the JSON (from
superset_config/roles.yml and the generated demo password) and sends it on stdin, so
no password is ever on a command line.

Why in-process with Superset's security manager rather than FAB_ROLES or the REST API:
FAB_ROLES roles live in memory only and Superset's data access checks
(user_view_menu_names, get_rls_filters) query the role tables, so such a role could
never be granted a dataset; the REST API needs a running server, and setup runs
before the server starts. This is what `superset init` itself does (set_role,
copy_role): role.permissions set from permission-view objects, in one transaction.

Dashboards (DASHBOARD_RBAC): each role's `dashboards` become the dashboards' roles. A
dashboard's roles open its charts' data to their users whatever their dataset
permissions (Superset's raise_for_access grants a chart's datasource through a
dashboard that carries one of the user's roles), so nothing is applied when a
dashboard would open a dataset to a role that may not read it, or that its row-level
filters do not cover (dashboard_grant_problems: the message names the dashboard, the
chart or native filter, and the dataset).
"""

import fnmatch
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

EXPORT_PERMISSIONS = (
    "can_csv on Superset",
    "can_export_data on Superset",
    "can_export_csv on *",
    "can_export_streaming_csv on *",
)


ALL_DASHBOARDS = "*"
ALL_DATA = {
    ("all_datasource_access", "all_datasource_access"),
    ("all_database_access", "all_database_access"),
}


class AccessError(Exception):
    pass


def dashboard_grants(
    roles: Mapping[str, Mapping[str, Any]], slugs: Iterable[str]
) -> dict[str, list[str]]:
    """Dashboard (slug) -> the roles.yml roles given it, from each role's `dashboards`
    (a list of slugs, or "*" for every dashboard). A slug that names no dashboard
    fails: a typo must not hide a dashboard from the role it was meant for."""
    known = sorted(slugs)
    grants: dict[str, list[str]] = {slug: [] for slug in known}
    for role_name, definition in roles.items():
        wanted = definition.get("dashboards", [])
        if wanted == ALL_DASHBOARDS:
            wanted = known
        elif isinstance(wanted, str):
            raise AccessError(
                f"role {role_name!r}: dashboards must be a list or {ALL_DASHBOARDS!r}"
            )
        for slug in wanted:
            if slug not in grants:
                raise AccessError(f"role {role_name!r}: no dashboard {slug!r} (have {known})")
            grants[slug].append(role_name)
    return grants


def dashboard_grant_problems(
    grants: Mapping[str, list[str]],
    dashboards: Mapping[str, Mapping[str, Any]],
    readable: Mapping[str, set[str] | None],
    filtered: Mapping[str, set[str]],
) -> list[str]:
    """What giving the dashboards to the roles would open that the roles may not see.

    grants: slug -> roles given the dashboard; dashboards: slug -> {"title",
    "charts": [(chart name, dataset)], "filters": [(native filter name, dataset)]},
    datasets named database.schema.table (None: a chart without a dataset);
    readable: role -> the datasets its permissions reach (None: every dataset);
    filtered: role -> the datasets its row-level filters cover, for the roles that
    have filters. A role with filters may be given a dashboard only if they cover
    every dataset its charts and native filters read; any role, only if it may read
    them (the dashboard would open them to it).
    """
    problems = []
    for slug, roles in sorted(grants.items()):
        dashboard = dashboards[slug]
        reads = [("chart", name, dataset) for name, dataset in dashboard.get("charts", [])]
        reads += [("native filter", name, ds) for name, ds in dashboard.get("filters", [])]
        for role in roles:
            for kind, name, dataset in reads:
                if dataset is None:
                    continue
                where = (
                    f"dashboard {dashboard['title']!r} ({slug}), {kind} {name!r}, dataset {dataset}"
                )
                if role in filtered and dataset not in filtered[role]:
                    problems.append(
                        f"{where}: role {role!r} has row-level filters that do not cover"
                        " the dataset, so the dashboard would show its users every row of it"
                    )
                elif readable.get(role) is not None and dataset not in (readable[role] or ()):
                    problems.append(
                        f"{where}: role {role!r} may not read the dataset, and the"
                        " dashboard would open it to its users (DASHBOARD_RBAC)"
                    )
    return problems


def _label(pvm: Any) -> str:
    return f"{pvm.permission.name} on {pvm.view_menu.name}"


def _matches(pvm: Any, patterns: list[str]) -> bool:
    label = _label(pvm)
    return any(fnmatch.fnmatchcase(label, pattern) for pattern in patterns)


def _split(qualified: str, parts: int) -> list[str]:
    """'warehouse.audit.loads' -> ['warehouse', 'audit', 'loads'] (database names may
    hold dots: the last parts - 1 dots split)."""
    pieces = qualified.rsplit(".", parts - 1)
    if len(pieces) != parts:
        raise AccessError(f"{qualified!r}: expected {parts} dot-separated parts")
    return pieces


def main() -> int:
    spec = json.load(sys.stdin)
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        try:
            summary = _apply(spec)
        except AccessError as error:
            print(f"access: {error}", file=sys.stderr)
            return 1
    print("access: " + json.dumps(summary, sort_keys=True))
    return 0


def _apply(spec: dict[str, Any]) -> dict[str, Any]:
    from flask import current_app as app
    from superset import db
    from superset import security_manager as sm
    from superset.connectors.sqla.models import (
        RowLevelSecurityFilter,
        SqlaTable,
        TableColumn,
    )
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.utils.core import RowLevelSecurityFilterType
    from werkzeug.security import check_password_hash, generate_password_hash

    databases = {d.database_name: d for d in db.session.query(Database).all()}
    datasets = db.session.query(SqlaTable).all()

    def database(name: str) -> Any:
        if name not in databases:
            raise AccessError(f"no Superset database {name!r} (have {sorted(databases)})")
        return databases[name]

    def pvm(permission: str, view: str) -> Any:
        found = sm.find_permission_view_menu(permission, view)
        return found or sm.add_permission_view_menu(permission, view)

    def dataset_name(table: Any) -> str:
        return f"{table.database.database_name}.{table.schema or ''}.{table.table_name}"

    def dataset_matches(table: Any, pattern: str) -> bool:
        return fnmatch.fnmatchcase(dataset_name(table), pattern)

    # the datasets each row-level rule covers: those with its column (in its schemas)
    rls_tables: dict[str, list[Any]] = {}
    for rule in spec["rls"]:
        schemas = rule.get("schemas")
        tables = (
            db.session.query(SqlaTable)
            .join(TableColumn, TableColumn.table_id == SqlaTable.id)
            .filter(TableColumn.column_name == rule["column"])
            .all()
        )
        rls_tables[rule["name"]] = [
            t for t in tables if not schemas or f"{t.database.database_name}.{t.schema}" in schemas
        ]
    filtered: dict[str, dict[int, Any]] = {}  # role -> the datasets its filters cover
    for rule in spec["rls"]:
        for role_name in rule["filters"]:
            covered = filtered.setdefault(role_name, {})
            covered.update({t.id: t for t in rls_tables[rule["name"]]})

    summary: dict[str, Any] = {"roles": {}, "users": [], "rls": {}, "dashboards": {}}
    permissions: dict[str, dict[int, Any]] = {}  # role -> its permission-views, by id
    readable: dict[str, set[str] | None] = {}
    for role_name, definition in spec["roles"].items():
        chosen: dict[int, Any] = {}
        for base in definition.get("like", []):
            base_role = sm.find_role(base)
            if base_role is None:
                raise AccessError(f"role {role_name!r}: no built-in role {base!r}")
            chosen.update({p.id: p for p in base_role.permissions})
        for label in definition.get("include", []):
            permission, _, view = label.partition(" on ")
            found = sm.find_permission_view_menu(permission, view)
            if found is None:  # a typo must not pass silently
                raise AccessError(f"role {role_name!r}: no permission {label!r}")
            chosen[found.id] = found
        exclude = list(definition.get("exclude", []))
        if not definition.get("export", True):
            exclude += EXPORT_PERMISSIONS
        chosen = {i: p for i, p in chosen.items() if not _matches(p, exclude)}

        for name in definition.get("databases", []):
            found = pvm("database_access", database(name).perm)
            chosen[found.id] = found
        for qualified in definition.get("schemas", []):
            db_name, schema = _split(qualified, 2)
            perms = {sm.get_schema_perm(database(db_name).database_name, None, schema)}
            # a dataset with a catalog has the form [db].[catalog].[schema]
            perms |= {
                t.schema_perm
                for t in datasets
                if t.database.database_name == db_name and t.schema == schema and t.schema_perm
            }
            for perm in perms:
                found = pvm("schema_access", perm)
                chosen[found.id] = found
        excluded_datasets = definition.get("exclude_datasets", [])
        for pattern in definition.get("datasets", []):
            for table in datasets:
                if dataset_matches(table, pattern) and not any(
                    dataset_matches(table, x) for x in excluded_datasets
                ):
                    found = pvm("datasource_access", table.perm)
                    chosen[found.id] = found
        if definition.get("row_level_datasets"):
            if role_name not in filtered:
                raise AccessError(f"role {role_name!r}: row_level_datasets, but no filter")
            for table in filtered[role_name].values():
                found = pvm("datasource_access", table.perm)
                chosen[found.id] = found

        permissions[role_name] = chosen
        labels = {(p.permission.name, p.view_menu.name) for p in chosen.values()}
        readable[role_name] = (
            None
            if labels & ALL_DATA
            else {
                dataset_name(t)
                for t in datasets
                if ("datasource_access", t.perm) in labels
                or ("schema_access", t.schema_perm) in labels
                or ("database_access", t.database.perm) in labels
            }
        )

    # dashboards: their roles are the roles.yml roles given them, once nothing they
    # would open is out of those roles' reach
    by_id = {t.id: t for t in datasets}
    boards = {d.slug or str(d.id): d for d in db.session.query(Dashboard).all()}
    described: dict[str, dict[str, Any]] = {}
    for slug, board in boards.items():
        metadata = json.loads(board.json_metadata or "{}")
        described[slug] = {
            "title": board.dashboard_title,
            "charts": [
                (
                    chart.slice_name,
                    dataset_name(by_id[chart.datasource_id])
                    if chart.datasource_id in by_id
                    else None,
                )
                for chart in board.slices
            ],
            "filters": [
                (
                    native.get("name"),
                    dataset_name(by_id[target["datasetId"]])
                    if target.get("datasetId") in by_id
                    else None,
                )
                for native in metadata.get("native_filter_configuration", [])
                for target in native.get("targets", [])
            ],
        }
    grants = dashboard_grants(spec["roles"], boards)
    problems = dashboard_grant_problems(
        grants,
        described,
        readable,
        {role: {dataset_name(t) for t in tables.values()} for role, tables in filtered.items()},
    )
    if problems:
        raise AccessError(
            "dashboards given to roles that may not see them:\n" + "\n".join(problems)
        )

    # nothing written before the checks above passed
    for role_name, chosen in permissions.items():
        role = sm.find_role(role_name) or sm.add_role(role_name)
        role.permissions = sorted(chosen.values(), key=lambda p: p.id)
        summary["roles"][role_name] = len(chosen)
    for slug, role_names in grants.items():
        boards[slug].roles = [sm.find_role(name) for name in role_names]
        summary["dashboards"][slug] = role_names

    for user in spec["users"]:
        roles = []
        for role_name in user["roles"]:
            role = sm.find_role(role_name)
            if role is None:
                raise AccessError(f"user {user['username']!r}: no role {role_name!r}")
            roles.append(role)
        existing = sm.find_user(username=user["username"])
        if existing is None:
            added = sm.add_user(
                user["username"],
                user["first_name"],
                user["last_name"],
                user["email"],
                roles,
                password=user["password"],
                commit=False,
            )
            if not added:
                raise AccessError(f"could not add user {user['username']!r}")
            summary["users"].append(f"{user['username']} (new)")
        else:
            existing.roles = roles
            existing.active = True
            if not check_password_hash(existing.password or "", user["password"]):
                existing.password = generate_password_hash(
                    password=user["password"],
                    method=app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                    salt_length=app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
                )
            summary["users"].append(user["username"])

    prefix = spec["rls_prefix"]
    wanted: set[str] = set()
    for rule in spec["rls"]:
        tables = rls_tables[rule["name"]]
        for role_name, clause in rule["filters"].items():
            role = sm.find_role(role_name)
            if role is None:
                raise AccessError(f"row-level filter {rule['name']!r}: no role {role_name!r}")
            name = f"{prefix}{rule['name']}: {role_name}"
            wanted.add(name)
            rls = db.session.query(RowLevelSecurityFilter).filter_by(name=name).one_or_none()
            if rls is None:
                rls = RowLevelSecurityFilter(name=name)
                db.session.add(rls)
            rls.filter_type = RowLevelSecurityFilterType.REGULAR
            rls.group_key = rule.get("group_key")
            rls.clause = clause
            rls.description = "managed by metricstack (superset_config/roles.yml)"
            rls.roles = [role]
            rls.tables = tables
        summary["rls"][rule["name"]] = sorted(f"{t.schema}.{t.table_name}" for t in tables)
    # filters this file made before and no longer defines
    for stale in (
        db.session.query(RowLevelSecurityFilter)
        .filter(RowLevelSecurityFilter.name.startswith(prefix))
        .all()
    ):
        if stale.name not in wanted:
            db.session.delete(stale)
    db.session.commit()
    return summary


if __name__ == "__main__":
    sys.exit(main())
