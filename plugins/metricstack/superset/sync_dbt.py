"""Run preset-cli's `superset-cli ... sync dbt-core` with a password read from stdin.

Runs INSIDE the Superset virtualenv, as a script (`python -I sync_dbt.py < payload.json`),
from the folder dbt_sync.py prepared: it imports preset-cli and nothing of metricstack.
The payload is JSON: {"url", "username", "password", "args"}. Why not the
`superset-cli` console script: its only ways to take a password are the command line
(visible to every user in `ps`) and an interactive prompt; its click group accepts an
authenticator in the context instead, which is what this does.

The authenticator signs in through the login form (a session cookie), not only with a
JWT: with --merge-metadata preset-cli reads /datasource/external_metadata/, a
Flask-AppBuilder view that answers "Access is Denied" to a bearer token in Superset 6.1.
"""

import json
import sys


def main() -> int:
    # preset-cli lives in the Superset virtualenv only, not where mypy runs
    from preset_cli.auth.superset import (  # type: ignore[import-not-found]
        UsernamePasswordAuth,
    )
    from preset_cli.cli.superset.main import superset_cli  # type: ignore[import-not-found]
    from yarl import URL

    class SessionAuth(UsernamePasswordAuth):  # type: ignore[misc]  # preset-cli: untyped here
        def auth(self) -> None:
            self._clear_api_auth_state()
            self._using_legacy_auth = True
            self._legacy_auth()

    payload = json.load(sys.stdin)
    auth = SessionAuth(URL(payload["url"]), payload["username"], payload["password"])
    superset_cli.main(
        args=["--loglevel", "INFO", payload["url"], *payload["args"]],
        obj={"AUTH": auth},
        prog_name="superset-cli",
        standalone_mode=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
