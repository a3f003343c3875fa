#!/usr/bin/env bash
# make demo: start the local sandbox deployment (API + mosquitto), run demo/demo.yml against it, stop it.
# Ports (environment): DEMO_API_PORT (18083), DEMO_MQTTS_PORT (8883), DEMO_WSS_PORT (8084), DEMO_MQTT_PORT (0 = none).
# DEMO_DIR (build/demo) holds the PKI and a fresh sandbox data dir per run. Extra arguments go to ansible-playbook.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
py=$venv/bin/python
api_port=${DEMO_API_PORT:-18083}
mqtts_port=${DEMO_MQTTS_PORT:-8883}
wss_port=${DEMO_WSS_PORT:-8084}
mqtt_port=${DEMO_MQTT_PORT:-0}
work=${DEMO_DIR:-$here/build/demo}

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "demo: mosquitto is not installed. Install it with: sudo apt-get install -y mosquitto" >&2
  exit 1
fi
if [ ! -x "$py" ]; then
  echo "demo: no virtual environment at $venv (run make test or make venv first)" >&2
  exit 1
fi

mkdir -p "$work"
umask 077
run=$(mktemp -d "$work/sandbox.XXXXXX")
ready=$run/ready.json
vars=$run/demo-vars.json

"$py" -m certhygiene.cli sandbox --data-dir "$run/data" --host 127.0.0.1 --api-port "$api_port" \
  --mqtt-port "$mqtt_port" --mqtts-port "$mqtts_port" --wss-port "$wss_port" --ready-file "$ready" \
  >"$run/sandbox.log" 2>&1 &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap stop EXIT

for _ in $(seq 1 300); do
  [ -s "$ready" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "demo: the sandbox did not start:" >&2
    cat "$run/sandbox.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$ready" ]; then
  echo "demo: the sandbox is not ready after 30 s:" >&2
  cat "$run/sandbox.log" >&2
  exit 1
fi
cat "$run/sandbox.log"

# The sandbox's address and credentials as demo_* variables (a 0600 file, never on the command line).
"$py" - "$ready" "$vars" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
keys = ("api_url", "api_key", "api_secret", "deployment_id", "host", "mqtts_port", "wss_port", "wss_path",
        "mqtt_user", "mqtt_password")
json.dump({f"demo_{k}": info[k] for k in keys if k in info}, open(sys.argv[2], "w"))
PY

collections=$here/build/collections
mkdir -p "$collections/ansible_collections/certhygiene"
[ -e "$collections/ansible_collections/certhygiene/tls" ] || ln -s "$here" "$collections/ansible_collections/certhygiene/tls"

export ANSIBLE_COLLECTIONS_PATH=$collections
export ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0 ANSIBLE_RETRY_FILES_ENABLED=0
export PATH=$venv/bin:$PATH
set +e
"$venv/bin/ansible-playbook" -i "localhost," -c local -e "ansible_python_interpreter=$py" \
  -e "demo_pki_dir=$work/pki" -e "@$vars" "$here/demo/demo.yml" "$@"
rc=$?
set -e
stop
trap - EXIT
if [ "$rc" -eq 0 ]; then
  rm -rf "$run"
else
  echo "demo: failed; the sandbox log and data are in $run" >&2
fi
exit $rc
