#!/usr/bin/env bash
# Lint, format check, type check and import contracts: the same gate for pre-commit, CI and you.
# Usage: bash scripts/check.sh   (after the README's setup command)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy" -p robopg
"$VENV/bin/lint-imports"
