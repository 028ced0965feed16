"""Write dbt's manifest for the checks, without the stack: ``dbt_manifest.py STATE_DIR``.

The manifest is written the way ``metricstack setup`` writes it (``dbt parse`` through
``metricstack.services.dbt``), into ``STATE_DIR/dbt/target/manifest.json``. Secrets for
the dbt profile are generated in STATE_DIR: ``dbt parse`` reads the profile but never
connects, so no database is needed.
"""

from __future__ import annotations

import os
import sys

from metricstack.config import load_settings
from metricstack.services.dbt import write_manifest


def main(state_dir: str) -> int:
    settings = load_settings({**os.environ, "METRICSTACK_STATE_DIR": state_dir})
    settings.ensure_secrets()
    write_manifest(settings)
    print(f"wrote {settings.dbt_manifest}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
