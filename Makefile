# Two commands on a fresh machine with Python 3.11+:  make demo   and   make test
# Each builds the project's virtual environment in .venv/ first (once; again when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CRM := $(BIN)/crm
OUT ?= out
DEMO_DATA ?= completejourney
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: demo test test-fast serve clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"Python 3.11+ needed, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python .ci/check_versions.py
	@touch $@

## demo: the main job end to end on the embedded default data (Complete Journey)
demo: $(VENV)/.installed
	$(CRM) segments --data $(DEMO_DATA) --out $(OUT)/segments --quarantine $(OUT)/quarantine.csv
	$(CRM) train pricing --data $(DEMO_DATA) --out $(OUT)/pricing
	$(CRM) train churn --data $(DEMO_DATA) --out $(OUT)/churn && $(CRM) train clv --data $(DEMO_DATA) --out $(OUT)/clv && $(CRM) churn-list --data $(DEMO_DATA) --top 100 --out $(OUT)/churn_list.csv
	$(CRM) train recommender --data $(DEMO_DATA) --out $(OUT)/recommender
	$(CRM) serve demo --data $(DEMO_DATA)

## serve: import the current champions and run the service until Ctrl-C (PORT=3000; CRM_API_KEY for marketing)
serve: $(VENV)/.installed
	$(CRM) serve import --data $(DEMO_DATA)
	$(CRM) serve --port $(or $(PORT),3000)

## test: the whole test suite, real-data checks and notebooks included
test: $(VENV)/.installed
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbmake notebooks/ -p no:randomly -q

## test-fast: unit tests only (no real data, notebooks, browser or Spark; no servers or subprocesses: marker slow)
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -m "not realdata and not fuzz and not slow and not browser and not spark"

clean:
	rm -rf $(VENV) $(OUT)
