"""Create the project's virtual environments from the committed lock files.

Standard library only: this runs before anything is installed. Each environment is
(re)synced when its lock file changed since the last sync, so a second run is quick.
`uv` itself is installed with pip into .venvs/tools, pinned here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

UV_VERSION = "0.13.9"
ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venvs"
REQUIREMENTS = ROOT / "requirements"
# environment -> files whose change means a re-sync
ENVIRONMENTS = {
    "platform": ("platform.lock.txt",),
    "superset": ("superset.lock.txt",),
}


def say(message: str) -> None:
    print(f"[bootstrap] {message}", flush=True)


def run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True)


def ensure_uv() -> Path:
    uv = VENVS / "tools" / "bin" / "uv"
    if uv.exists():
        out = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False).stdout
        if UV_VERSION in out:
            return uv
    say(f"installing uv {UV_VERSION} into {uv.parent.parent}")
    venv.create(VENVS / "tools", with_pip=True, clear=True)
    run(VENVS / "tools" / "bin" / "python", "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    return uv


def digest(env: str) -> str:
    h = hashlib.sha256()
    for name in ENVIRONMENTS[env]:
        h.update((REQUIREMENTS / name).read_bytes())
    if env == "platform":
        h.update((ROOT / "pyproject.toml").read_bytes())
    return h.hexdigest()


def sync(uv: Path, env: str, python: str) -> None:
    target = VENVS / env
    stamp = target / ".synced-from"
    want = digest(env)
    if stamp.exists() and stamp.read_text() == want:
        return
    say(f"installing the {env} environment from requirements/{ENVIRONMENTS[env][0]}")
    if not (target / "bin" / "python").exists():
        run(uv, "venv", "--quiet", "--python", python, target)
    env_vars = {**os.environ, "VIRTUAL_ENV": str(target)}
    subprocess.run(
        [str(uv), "pip", "sync", "--quiet", str(REQUIREMENTS / ENVIRONMENTS[env][0])],
        check=True,
        env=env_vars,
    )
    if env == "platform":
        # the project's own package, editable: plugins/ is also Airflow's plugins folder
        subprocess.run(
            [str(uv), "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)],
            check=True,
            env=env_vars,
        )
    stamp.write_text(want)


def ensure_browser() -> int:
    """Debian's Chromium and ChromeDriver: the browser tests drive Chromium with Playwright
    (which downloads none), Superset's worker takes its screenshots through ChromeDriver."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "the browser tests and Superset's server-side screenshots need Chromium and "
            "ChromeDriver: install your system's packages (Debian: sudo apt-get install "
            "chromium chromium-driver); without them the browser tests are skipped and "
            "dashboards are downloaded as images drawn in the browser",
            file=sys.stderr,
        )
        return 0
    say("installing Chromium and ChromeDriver from the system's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"], check=True, env=env
    )
    return 0


def lock(uv: Path, python: str) -> None:
    for env, files in ENVIRONMENTS.items():
        say(f"resolving requirements/{env}.in")
        run(
            uv,
            "pip",
            "compile",
            "--quiet",
            "--python",
            python,
            "--python-platform",
            "x86_64-manylinux_2_28",
            REQUIREMENTS / f"{env}.in",
            "-o",
            REQUIREMENTS / files[0],
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lock", action="store_true", help="re-resolve the lock files")
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also install Chromium and ChromeDriver (browser tests, screenshots)",
    )
    args = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        print(
            f"metricstack needs Python 3.11 (found {sys.version.split()[0]} at {sys.executable}): "
            "install python3.11 or run with PYTHON=/path/to/python3.11 make ...",
            file=sys.stderr,
        )
        return 2
    uv = ensure_uv()
    if args.lock:
        lock(uv, sys.executable)
        return 0
    for env in ENVIRONMENTS:
        sync(uv, env, sys.executable)
    return ensure_browser() if args.browser else 0


if __name__ == "__main__":
    sys.exit(main())
