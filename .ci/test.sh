#!/usr/bin/env bash
# The whole test suite on a fresh machine, services included: README's test command (`bash .ci/test.sh`),
# run exactly by CI (.ci/run).
#  1. installs and starts Java, Chromium and PostgreSQL where missing (.ci/services.sh, exports the URL);
#  2. installs misflag with every extra and the test tools into .venv, pinned by requirements-lock.txt;
#  3. runs pytest with CI=true, so a test whose service is missing fails instead of skipping,
#     and fails the run if any test was skipped all the same. The tests run on one pytest-xdist worker per
#     logical CPU (at most 4): a module whole on one worker, the Spark tests together (tests/conftest.py);
#     arguments go to pytest after these, so `-n 0` runs them in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/services.sh
[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
pip install -q --disable-pip-version-check -c requirements-lock.txt -e '.[test]'
report="$(mktemp -d)/junit.xml"
# Python writes compiled modules (src/**/__pycache__, ignored by git) even where the machine's environment says
# not to: the suite's CLI and server subprocesses then read misflag compiled instead of each compiling it
# again (user CPU of test_cli.py + test_decisions_scan_thread_review.py: 19.3 s -> 17.7 s).
unset PYTHONDONTWRITEBYTECODE
CI=true python -m pytest -q -rs -n logical --maxprocesses 4 --dist loadgroup --junitxml="$report" "$@"
python - "$report" <<'PY'
import sys
import xml.etree.ElementTree as ET

suites = ET.parse(sys.argv[1]).getroot()
skipped = sum(int(s.get("skipped", 0)) for s in suites.iter("testsuite"))
if skipped:
    sys.exit(f"{skipped} test(s) skipped: every test must run (see the 'SKIPPED' lines above)")
print("no test skipped")
PY
