"""Import a bundle ZIP into Superset, overwriting everything it holds.

Runs INSIDE the Superset virtualenv, as a script (`python -I import_bundle.py ZIP USER`):
it imports superset and nothing of metricstack. Why not `superset import-dashboards`:
in Superset 6.1 that command overwrites the dashboard only and keeps an existing
database, dataset or chart as it is (overwrite=False in
commands/dashboard/importers/v1), so an edited chart or a new warehouse password in the
bundle would be silently ignored. ImportAssetsCommand, the command behind
POST /api/v1/assets/import/, overwrites every object matched by UUID.

Datasets are matched by UUID only, but a table may have only one dataset: when the dbt
sync (dbt_sync.py, through preset-cli) made the dataset of a mart before the bundle
brought it, the import would fail on Superset's unique (database, catalog, schema,
table) constraint. adopt_datasets() gives such a dataset the bundle's UUID first, so the
import updates it in place (its id, and the charts built on it, stay).
"""

import sys
import uuid
from typing import Any
from zipfile import ZipFile


def adopt_datasets(contents: dict[str, str]) -> int:
    """Give the bundle's UUID to an existing dataset of the same table (see above)."""
    import yaml
    from superset import db
    from superset.connectors.sqla.models import SqlaTable
    from superset.models.core import Database

    adopted = 0
    for name, text in contents.items():
        if not name.startswith("datasets/"):
            continue
        config: dict[str, Any] = yaml.safe_load(text)
        wanted = uuid.UUID(config["uuid"])
        if db.session.query(SqlaTable).filter_by(uuid=wanted).first() is not None:
            continue
        database = (
            db.session.query(Database)
            .filter_by(uuid=uuid.UUID(config["database_uuid"]))
            .one_or_none()
        )
        if database is None:
            continue
        same_table = (
            db.session.query(SqlaTable)
            .filter_by(
                database_id=database.id,
                schema=config.get("schema"),
                table_name=config["table_name"],
            )
            .all()
        )
        if len(same_table) == 1:
            same_table[0].uuid = wanted
            adopted += 1
    db.session.commit()
    return adopted


def main(path: str, username: str) -> int:
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.commands.exceptions import CommandInvalidError
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.commands.importers.v1.utils import get_contents_from_bundle
        from superset.utils.core import override_user

        user = security_manager.find_user(username=username)
        if user is None:
            print(f"no Superset user {username!r}", file=sys.stderr)
            return 1
        with ZipFile(path) as bundle:
            contents = get_contents_from_bundle(bundle)
        adopted = adopt_datasets(contents)
        if adopted:
            print(f"adopted {adopted} existing datasets under the bundle's UUIDs")
        try:
            # the importing user becomes owner of what is created
            with override_user(user):
                ImportAssetsCommand(contents).run()
        except CommandInvalidError as error:
            print(f"invalid bundle: {error.normalized_messages()}", file=sys.stderr)
            return 1
    print(f"imported {len(contents)} files from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
