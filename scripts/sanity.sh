#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection as it ships: copy the collection's
# files into a fresh ansible_collections/certhygiene/tls tree and test there.
# Extra arguments go to ansible-test (e.g. --test validate-modules).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
work=$(mktemp -d "${TMPDIR:-/tmp}/certhygiene-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/certhygiene/tls
mkdir -p "$dest"
cd "$here"
# ansible-test bootstraps pip in its sanity venvs with a script from a host we
# cannot reach; it uses a cached copy when there is one.
pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test, pathlib
src = (pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py").read_text()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")" && cp scripts/ansible-test-get-pip.py "$cache"
fi
# What the collection ships (galaxy.yml build_ignore keeps the rest out of the tarball).
for item in galaxy.yml meta plugins roles docs changelogs README.md LICENSE tests/config.yml tests/sanity; do
  [ -e "$item" ] && cp -a --parents "$item" "$dest/"
done
find "$dest" -name __pycache__ -prune -exec rm -rf {} +
cd "$dest"
printf "tests/output/\n" > .gitignore
git init -q . && git add -A >/dev/null 2>&1
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
