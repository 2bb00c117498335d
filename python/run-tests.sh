#!/usr/bin/env bash
# The Python package's tests, as CI runs them (.ci/run): a venv under target/ with the pinned test
# dependencies, the CLI (the tests compare with the files it writes), the extension as a debug
# build installed into the venv by `maturin develop`, then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$PWD/target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
# dropscope.spark's test runs Spark in local mode, which needs a Java runtime (17 is on these
# machines; install one where it is not and we may).
if ! command -v java >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
cargo build --quiet --bin dropscope
export DROPSCOPE_BIN="${DROPSCOPE_BIN:-$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug/dropscope}"
VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop --quiet --manifest-path python/Cargo.toml
cd python
status=0
"$venv/bin/python" -m pytest -q "$@" || status=$?
# pytest exits 5 when it collected no test: that is a failure here, not a pass.
if [ "$status" -eq 5 ]; then
    echo "pytest collected no test" >&2
fi
exit "$status"
