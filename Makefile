# The project's commands; each calls a script or the `metricstack` command.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venvs/platform/bin

.PHONY: demo test status stop reset install lock

demo: install        ## set up, start Airflow and Superset, run the pipeline once
	$(VENV)/metricstack demo

test: install        ## the whole test suite
	$(VENV)/pytest

install:             ## the virtual environments, from requirements/*.lock.txt
	@$(PYTHON) requirements/bootstrap.py

status:              ## what runs, where
	$(VENV)/metricstack status

stop:                ## stop everything the demo started
	$(VENV)/metricstack stop

reset:               ## stop, then wipe the state folder
	$(VENV)/metricstack reset

lock:                ## re-resolve the lock files after editing requirements/*.in
	$(PYTHON) requirements/bootstrap.py --lock
