#!/usr/bin/env bash
# `npm test`: installs missing system packages, checks lint/format and types, then runs every
# test with node's own test runner (its closing summary is what CI reads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== lint (biome)"
npx biome check .
echo "== types (tsc)"
npx tsc --noEmit -p .
npx tsc --noEmit -p console
echo "== web console (API types current, build)"
node --import tsx scripts/console.ts build
echo "== tests (node --test)"
# Integration tests start real processes and servers; two at a time suits a 2-core machine.
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 'test/**/*.test.ts'
