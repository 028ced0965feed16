"""Import a bundle ZIP into Superset, overwriting everything it holds.

Runs INSIDE the Superset virtualenv, as a script (`python -I import_bundle.py ZIP USER`):
it imports superset and nothing of metricstack. Why not `superset import-dashboards`:
in Superset 6.1 that command overwrites the dashboard only and keeps an existing
database, dataset or chart as it is (overwrite=False in
commands/dashboard/importers/v1), so an edited chart or a new warehouse password in the
bundle would be silently ignored. ImportAssetsCommand, the command behind
POST /api/v1/assets/import/, overwrites every object matched by UUID.
"""

import sys
from zipfile import ZipFile


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
