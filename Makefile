PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared

.PHONY: install run test lint eval bench bench-large clean browser screenshots

# Bytecode compiled as a regular install compiles it (an editable install does not, and
# with PYTHONDONTWRITEBYTECODE set every command would compile every module again).
install: $(STAMP)
	@$(BIN)/python -m compileall -q searchkit >/dev/null

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]' --config-settings editable_mode=compat
	@# the table a short query is cut with (searchkit/dictionary.py); without it, the whole dictionary
	-$(BIN)/python -m searchkit.dictionary
	touch $(STAMP)

run: install
	$(BIN)/searchkit index examples/posts --index index --rebuild
	$(BIN)/searchkit search 数据中心 液冷 --index index --limit 3

# Two test processes (pytest-xdist): most tests wait on a subprocess or the disk.
test: install browser
	$(BIN)/pytest -q -n 2

# Debian's Chromium for the browser test (tests/test_browser.py), where it can be installed;
# where it cannot, that test says so and is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& { apt-get install -y -q chromium >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } \
		|| echo "make: Chromium could not be installed here; the browser test will be skipped"

lint: install
	$(BIN)/ruff check searchkit tests benchmarks
	$(BIN)/ruff format --check searchkit tests benchmarks

eval: install
	$(BIN)/python benchmarks/eval.py --shared $(SHARED)

bench: install
	$(BIN)/python benchmarks/bench.py --shared $(SHARED)

# 1,000,000 generated posts beside the 200,000 of the last make bench (about an hour)
bench-large: install
	$(BIN)/python benchmarks/bench.py --shared $(SHARED) --large 1000000

# docs/serve.png and docs/serve-390.png (Chromium, and a CJK font to draw the Chinese)
screenshots: install browser
	@command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q . || { [ "$$(id -u)" = 0 ] \
		&& apt-get install -y -q fonts-noto-cjk >/dev/null 2>&1; } || true
	$(BIN)/python benchmarks/screenshots.py

clean:
	rm -rf $(VENV) index/* build *.egg-info
