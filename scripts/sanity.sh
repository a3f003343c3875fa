#!/usr/bin/env bash
# Run `ansible-test sanity` on the repository as it is checked out: every tracked file, as it is in the
# working tree, under ansible_collections/certhygiene/tls (the way collection maintainers and CI run it),
# with the empty ignore files of tests/sanity/. Nothing is left out, so nothing can hide.
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
# ansible-test finds the collection from the physical working directory, so a symlink into the checkout
# is not enough: the tracked files are copied as they are in the working tree (uncommitted edits included).
git ls-files -z --cached | while IFS= read -r -d '' item; do
  [ -e "$item" ] || [ -L "$item" ] || continue # deleted in the working tree
  cp -a --parents "$item" "$dest/"
done
cd "$dest"
printf "tests/output/\n" >> .gitignore
git init -q . && git add -A >/dev/null 2>&1
PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
