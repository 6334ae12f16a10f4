#!/usr/bin/env bash
# Lint, format check and type check: the same gate for pre-commit, CI and you.
# Usage: bash scripts/check.sh   (after the README's setup command)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# The strict editable install maps envs/ and cli.py under robopg; type-check that installed
# view so `robopg.envs` and `robopg.app` resolve exactly as users import them.
tree=$(ls -d build/__editable__.robopg-*/ 2>/dev/null | head -n1)
if [ -z "$tree" ]; then
  echo "no editable install found: run the README's setup command first" >&2
  exit 1
fi
(cd "$tree" && "../../$VENV/bin/mypy" --config-file ../../pyproject.toml -p robopg)
