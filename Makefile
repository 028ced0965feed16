# The project's commands; each calls a script or the `metricstack` command.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venvs/platform/bin

.PHONY: demo test lint status stop reset install browser lock bench-load bench-dbt bench-dashboards

demo: install browser  ## set up, start Airflow and Superset (and its screenshot worker), run the pipeline once
	$(VENV)/metricstack demo

test: install browser lint  ## `make lint`, then the whole test suite
	$(VENV)/pytest

lint: install        ## ruff, mypy, sqlfluff, dbt conventions, yamllint, DAG integrity
	tools/lint.sh

bench-load: install  ## TPC-H lineitem SF1 through the loader, psql \copy, dlt, pandas
	$(VENV)/python -m metricstack.bench.load

bench-dbt: install   ## dbt at 10M orders: full build, one more day, dashboard latency (ORDERS=1000000 for a quick one)
	$(VENV)/python -m metricstack.bench.dbt_scale --orders $(or $(ORDERS),10000000)

bench-dashboards: install browser  ## p50/p95 load time of each dashboard in Chromium, uncached and cached, against the running demo (RUNS=5)
	$(VENV)/python -m metricstack.bench.dashboards --runs $(or $(RUNS),5)

install:             ## the virtual environments, from requirements/*.lock.txt
	@$(PYTHON) requirements/bootstrap.py

browser:             ## Chromium and ChromeDriver from the system's packages: browser tests, Superset's screenshots
	@$(PYTHON) requirements/bootstrap.py --browser

status:              ## what runs, where
	$(VENV)/metricstack status

stop:                ## stop everything the demo started
	$(VENV)/metricstack stop

reset:               ## stop, then wipe the state folder
	$(VENV)/metricstack reset

lock:                ## re-resolve the lock files after editing requirements/*.in
	$(PYTHON) requirements/bootstrap.py --lock
