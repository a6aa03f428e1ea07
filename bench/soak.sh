#!/usr/bin/env bash
# The long soak: the in-host soak test (test/suite/soak.test.ts) with 1000 seeded operations instead
# of the suite's 100, in code-server's real extension host with the fixture model, niced so that it
# shares a small machine politely. Prints the "soak: ..." line that BENCHMARKS.md quotes.
#   bash bench/soak.sh            (DI_SOAK_OPS=1000, DI_SOAK_SEED=13)
#   DI_SOAK_OPS=5000 DI_SOAK_SEED=7 bash bench/soak.sh
# Expects `npm run compile` and `npm run build` first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DI_SOAK_OPS="${DI_SOAK_OPS:-1000}"
export DI_SOAK_SEED="${DI_SOAK_SEED:-13}"
# mocha's 15-minute default is too short for long runs: about 0.2 s per operation, plus slack.
export DI_SUITE_TIMEOUT_MS="${DI_SUITE_TIMEOUT_MS:-$((DI_SOAK_OPS * 2000 + 300000))}"
DI_SUITE_GREP="soak" nice -n 10 bash "$ROOT/test/runners/code-server.sh" suite
