#!/usr/bin/env bash
# make demo: the seed scenario end to end against mzemu --embedded.
set -euo pipefail
echo "make demo: not available yet: it needs mzemu (issue 3) and mzsync apply (issue 6)." >&2
exit 1
