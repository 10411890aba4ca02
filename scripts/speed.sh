#!/bin/sh
# Measures hagen's speed side by side in one run (see scripts/speed/main.go)
# and prints the table the README's Speed section is refreshed from.
set -eu
cd "$(dirname "$0")/.."
exec go run ./scripts/speed "$@"
