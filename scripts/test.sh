#!/usr/bin/env bash
# Install (reusing .venv) and run the test suite. Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
set +e
# UTF-8 mode: Slicer's libraries (slicer-core, VTK) set the C locale in-process, after which Python's default
# text encoding would be ASCII and reading any file with a non-ASCII character (³, →, ±) would fail.
export PYTHONUTF8=1
# Lint first ([tool.ruff] in pyproject.toml): a finding fails the test command.
if ! "$VENV/bin/python" -m ruff check "$ROOT"; then
  echo "ruff found lint problems (above): failing before the tests" >&2
  exit 1
fi
# Two xdist workers (one torch thread each, see Testing/conftest.py) halve the suite's time on 2 cores.
"$VENV/bin/python" -m pytest -n "${REACTKD_TEST_WORKERS:-2}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: treated as a failure" >&2
  exit 1
fi
exit "$rc"
