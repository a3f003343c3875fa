#!/usr/bin/env bash
# ansible-lint (production profile) on the roles and playbooks, with this
# checkout visible as the certhygiene.tls collection.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
cd "$here"
"$venv/bin/python" -c 'import sys; sys.path.insert(0, "tests"); from support.ansible import collections_path; collections_path()'
targets=()
for t in roles playbooks demo; do [ -e "$t" ] && targets+=("$t"); done
[ ${#targets[@]} -gt 0 ] || { echo "ansible-lint: nothing to lint"; exit 0; }
ANSIBLE_COLLECTIONS_PATH="$here/build/collections" PATH="$venv/bin:$PATH" \
  ansible-lint --profile production --offline "${targets[@]}"
