#!/usr/bin/env bash
# The Node client's checks: install pinned deps, check the generated code
# against proto/, compile, run the tests (real daemon, real AS, real resource
# server tests/rs/bank.mjs for the example that calls a protected resource).
set -euo pipefail
cd "$(dirname "$0")"
(cd ../../tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
(cd ../../tests/rs && npm ci --no-audit --no-fund --loglevel=error)
npm ci --no-audit --no-fund --loglevel=error
npm run --silent check-generated
npm run --silent build
node --test dist/test/
