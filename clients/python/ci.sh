#!/usr/bin/env bash
# The Python client's checks: install it with pinned dev deps, check the
# generated code against proto/, run its tests (real daemon, real AS, real
# resource server tests/rs/bank.mjs for the example that calls a protected resource).
set -euo pipefail
cd "$(dirname "$0")"
(cd ../../tests/rs && npm ci --no-audit --no-fund --loglevel=error)
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
python3 -m pip install -q --disable-pip-version-check -e .
python3 regen.py --check
python3 -m pytest -q tests
