#!/usr/bin/env bash
# `make lint`: every check of the repository (CONTRIBUTING.md says what each enforces).
#
#   tools/lint.sh            all checks
#   tools/lint.sh sql dbt    some of them (the pre-commit hooks call it this way)
#
# Every check runs even when an earlier one failed, each with its time, so one run
# shows everything there is to fix; the exit status is 1 when any check failed.
# A script rather than Makefile logic or a `metricstack lint` subcommand: the checks
# are for the repository, not for users of the product, and pre-commit, make and CI
# call this one file.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venvs/platform/bin
# the package from this tree (also when the tree is a copy, as in tests/lint/)
export PYTHONPATH="$PWD/plugins${PYTHONPATH:+:$PYTHONPATH}"

check_ruff() { "$BIN/ruff" check .; }
check_format() { "$BIN/ruff" format --check .; }
check_mypy() { "$BIN/mypy"; }  # files and strictness: [tool.mypy] in pyproject.toml
check_sql() { "$BIN/sqlfluff" lint dbt_project/models; }  # config: dbt_project/.sqlfluff
check_yaml() { "$BIN/yamllint" --strict .; }  # config: .yamllint.yml
check_dags() { "$BIN/pytest" tests/dags -q -p no:cacheprovider; }
check_dbt() {
  # dbt parse into a temporary folder (no database needed), then the conventions
  # of dbt_project/dbt-bouncer.yml on that manifest
  local state status
  state=$(mktemp -d)
  "$BIN/python" tools/dbt_manifest.py "$state" >/dev/null &&
    (cd dbt_project && DBT_PROJECT_DIR="$state/dbt" "../$BIN/dbt-bouncer" --config-file dbt-bouncer.yml)
  status=$?
  rm -rf "$state"
  return $status
}

ALL=(ruff format mypy sql dbt yaml dags)
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=("${ALL[@]}")

# seconds since $1 (a ${EPOCHREALTIME/./} reading), to a tenth
since() {
  local d=$((${EPOCHREALTIME/./} - $1))
  echo "$((d / 1000000)).$((d / 100000 % 10))"
}

failed=()
started=${EPOCHREALTIME/./}
for step in "${steps[@]}"; do
  if ! declare -F "check_$step" >/dev/null; then
    echo "unknown check '$step'; the checks are: ${ALL[*]}" >&2
    exit 2
  fi
  echo "== lint: $step"
  t0=${EPOCHREALTIME/./}
  if "check_$step"; then result=ok; else result=FAILED; failed+=("$step"); fi
  echo "-- lint: $step $result ($(since "$t0") s)"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "lint FAILED: ${failed[*]} ($(since "$started") s)"
  exit 1
fi
echo "lint passed: ${steps[*]} ($(since "$started") s)"
