#!/usr/bin/env bash
# Managed-node interpreters for the cryptography version matrix (issue 10).
#
#   scripts/crypto-matrix.sh envs   build (or reuse) one virtual environment per version and print
#                                   "name<TAB>python" lines for the ready ones
#   scripts/crypto-matrix.sh        build them, then run tests/integration/test_crypto_matrix.py
#
# The environments are cached in ${CERTHYGIENE_MATRIX_CACHE:-~/.cache/certhygiene/crypto-matrix}/<name>,
# rebuilt only when their recipe (below) changes. Each pairs a cryptography release with the Python
# the distribution that ships it uses, where this machine has that Python (pyenv), else python3.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${CERTHYGIENE_MATRIX_CACHE:-$HOME/.cache/certhygiene/crypto-matrix}"
# name  python  cryptography  (who ships it)
MATRIX=(
  "2.9      3.11 2.9      below-the-floor"
  "3.4.8    3.10 3.4.8    Ubuntu-22.04"
  "36.0.2   3.9  36.0.2   RHEL-9"
  "38.0.4   3.11 38.0.4   Debian-12-wheel"
  "41.0.7   3.12 41.0.7   Ubuntu-24.04"
  "43.0.3   3.13 43.0.3   Debian-13"
  "newest   3.11 newest   PyPI"
)
# What the engine's tests need beside cryptography (pytest/hypothesis pinned loosely: 3.9 must resolve).
TEST_DEPS=(pytest hypothesis PyYAML)

find_python() {
  local want="$1" candidate
  for candidate in "python$want" "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$want".*/bin/python"$want"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
  command -v python3
}

build_env() {
  local name="$1" pyver="$2" crypto="$3" python dir recipe spec
  python="$(find_python "$pyver")"
  dir="$CACHE/$name"
  spec="cryptography==$crypto"
  [ "$crypto" = newest ] && spec="cryptography"
  recipe="$("$python" -c 'import sys; print(sys.version.split()[0])') $spec ${TEST_DEPS[*]}"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.recipe" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$CACHE"
  echo "crypto-matrix: building $name ($recipe)" >&2
  "$python" -m venv "$dir" >&2
  # Wheels only: an sdist build of an old cryptography needs a Rust or OpenSSL 1.1 toolchain this machine lacks.
  "$dir/bin/python" -m pip install --quiet --only-binary=:all: "$spec" "${TEST_DEPS[@]}" >&2
  echo "$recipe" >"$dir/.recipe"
}

# Debian's python3-cryptography under /usr/bin/python3: the test tools in a venv that sees the system packages.
build_system_env() {
  local dir="$CACHE/debian-system" recipe
  [ -x /usr/bin/python3 ] || return 1
  /usr/bin/python3 -c 'import cryptography' 2>/dev/null || return 1
  recipe="$(/usr/bin/python3 -c 'import sys, cryptography; print(sys.version.split()[0], cryptography.__version__)') ${TEST_DEPS[*]}"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.recipe" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  rm -rf "$dir"
  mkdir -p "$CACHE"
  echo "crypto-matrix: building debian-system ($recipe)" >&2
  /usr/bin/python3 -m venv --system-site-packages "$dir" >&2
  # pytest and hypothesis only: cryptography and PyYAML must stay Debian's.
  "$dir/bin/python" -m pip install --quiet --only-binary=:all: pytest hypothesis >&2
  echo "$recipe" >"$dir/.recipe"
}

envs() {
  local line name pyver crypto rest start
  start=$SECONDS
  for line in "${MATRIX[@]}"; do
    read -r name pyver crypto rest <<<"$line"
    if build_env "$name" "$pyver" "$crypto"; then
      printf '%s\t%s\n' "$name" "$CACHE/$name/bin/python"
    else
      echo "crypto-matrix: could not build $name" >&2
    fi
  done
  if build_system_env; then
    printf '%s\t%s\n' debian-system "$CACHE/debian-system/bin/python"
  else
    echo "crypto-matrix: /usr/bin/python3 has no cryptography (apt-get install python3-cryptography)" >&2
  fi
  echo "crypto-matrix: environments ready in $((SECONDS - start))s" >&2
}

case "${1:-run}" in
  envs) envs ;;
  run)
    envs >/dev/null
    start=$SECONDS
    .venv/bin/pytest -q -p no:cacheprovider -m crypto_matrix tests/integration/test_crypto_matrix.py
    echo "crypto-matrix: matrix ran in $((SECONDS - start))s"
    ;;
  *) echo "usage: $0 [envs|run]" >&2; exit 2 ;;
esac
