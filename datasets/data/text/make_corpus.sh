#!/usr/bin/env bash
# Rebuilds duet-src.txt.gz: the Rust sources of duet's core and optim crates, in path order, each
# file preceded by a `// file: <path>` line, non-ASCII characters replaced by `?` (a small,
# printable character vocabulary). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/../../.."
find core/src optim/src -name '*.rs' | LC_ALL=C sort | while read -r f; do
  printf '// file: %s\n' "$f"
  LC_ALL=C tr -c '\11\12\40-\176' '?' < "$f"
done | gzip -9n > datasets/data/text/duet-src.txt.gz
