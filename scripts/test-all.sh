#!/usr/bin/env bash
# `npm test`: the whole suite. Starts the real services the integration and e2e tests need
# (PostgreSQL, unleash-server, Kafka), idempotently, then runs lint, types and every jest project.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

if [ ! -d node_modules ]; then step "npm ci"; npm ci --no-audit --no-fund; fi
if [ ! -f libs/persistence/src/generated/prisma/client.ts ]; then step "prisma generate"; node scripts/prisma-generate.mjs; fi

step "services: PostgreSQL"
export AVIARY_TEST_DATABASE_URL="${AVIARY_TEST_DATABASE_URL:-$(bash scripts/services/postgres.sh --url)}"
step "services: unleash-server"
export UNLEASH_URL="${AVIARY_TEST_UNLEASH_URL:-$(bash scripts/services/unleash.sh --url)}"
step "services: Kafka"
export KAFKA_BROKERS="${AVIARY_TEST_KAFKA_BROKERS:-$(bash scripts/services/kafka.sh --url)}"

step "lint"
npx eslint . --max-warnings 0
step "format"
npx prettier --check . --log-level warn
step "typecheck"
npx tsc -p tsconfig.json --noEmit
step "build"
node scripts/build.mjs

step "unit tests"
npx jest --selectProjects unit --ci
step "integration tests"
npx jest --selectProjects integration --ci --runInBand
step "e2e tests"
npx jest --selectProjects e2e --ci --runInBand

step "all green"
