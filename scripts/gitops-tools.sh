#!/usr/bin/env bash
# Tools the GitOps tests run that do not belong in the project's venv (idempotent):
#  - Microsoft's SARIF validator, npm @microsoft/sarif-multitool (a self-contained .NET binary
#    inside the npm package; needs libicu, which Debian's libicu72 provides), under build/npm;
#  - galaxy-importer in its own venv, build/galaxy-importer-venv (it pins ansible-lint and attrs
#    below what .venv has).
# Needs: node/npm, python3 with venv; network access to the npm registry and PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
PYTHON=${PYTHON:-python3}
SARIF_MULTITOOL_VERSION=${SARIF_MULTITOOL_VERSION:-5.7.0}
GALAXY_IMPORTER_VERSION=${GALAXY_IMPORTER_VERSION:-0.4.44}

tool=build/npm/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if [ ! -x "$tool" ]; then
  mkdir -p build/npm
  npm install --no-audit --no-fund --loglevel=error --prefix build/npm \
    "@microsoft/sarif-multitool@$SARIF_MULTITOOL_VERSION"
  # npm >= 11 does not run the package's postinstall (chmod u+x) unless approved
  chmod u+x "$tool"
fi
"$tool" --version >/dev/null 2>&1

gi=build/galaxy-importer-venv
if [ ! -x "$gi/bin/python" ] || ! "$gi/bin/python" -c "import galaxy_importer" 2>/dev/null; then
  "$PYTHON" -m venv "$gi"
  "$gi/bin/python" -m pip install --quiet --upgrade pip
  "$gi/bin/python" -m pip install --quiet "galaxy-importer==$GALAXY_IMPORTER_VERSION"
fi
"$gi/bin/python" -c "import galaxy_importer"
echo "gitops tools ready: $tool, $gi"
