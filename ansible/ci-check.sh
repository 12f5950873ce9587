#!/usr/bin/env bash
# What CI verifies about ansible/ (run from anywhere; needs root, mosquitto, mosquitto-clients, influxdb):
#   1. syntax check of site.yml against the example inventory;
#   2. ansible-lint (production profile) over the playbooks and both roles;
#   3. the hub and edge_agent roles applied FOR REAL on this machine (connection local) into a temporary
#      root (hub_fs_root / edge_agent_fs_root), with a throw-away CA from hub-pki; without systemd the
#      service tasks are skipped (hub_manage_services=false, edge_agent_manage_services=false), and the
#      venv install is skipped (the package is not on an index; CI already has the project installed);
#   4. idempotence: a second run reports changed=0;
#   5. the files the role wrote work: the real Mosquitto starts from the rendered config, accepts a device
#      certificate over TLS, refuses a client without one and refuses plain TCP; InfluxDB starts from the
#      rendered config and answers /ping; the backup script parses; edge-agent renders the copied device file.
# Not verified here (needs systemd or real hardware): unit start/enable, watchdog restarts, chrony, journald.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
venv_bin=${ANSIBLE_VENV_BIN:-$repo/.venv/bin}
py_bin=${PROJECT_VENV_BIN:-$repo/.venv/bin}
export ANSIBLE_CONFIG="$here/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
work=$(mktemp -d /tmp/ansible-ci.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { "$py_bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== 1. syntax check"
"$venv_bin/ansible-playbook" --syntax-check -i "$here/inventory/example/hosts.yml" "$here/site.yml"
"$venv_bin/ansible-playbook" --syntax-check -i localhost, "$here/ci/local.yml"

echo "== 2. ansible-lint"
(cd "$here" && "$venv_bin/ansible-lint" --offline --profile production site.yml ci/local.yml roles/)

echo "== 3. apply the roles for real (connection local) under $work/root"
"$py_bin/hub-pki" --ca-dir "$work/pki" init --organisation ci-kommune >/dev/null
"$py_bin/hub-pki" --ca-dir "$work/pki" issue-server 127.0.0.1 localhost >/dev/null
"$py_bin/hub-pki" --ca-dir "$work/pki" issue-hub >/dev/null
"$py_bin/hub-pki" --ca-dir "$work/pki" issue-device lamp-017 >/dev/null
mqtt_port=$(free_port); influx_port=$(free_port); rpc_port=$(free_port)
cat > "$work/vars.json" <<JSON
{"ansible_python_interpreter": "/usr/bin/python3", "kommune_repo_dir": "$repo", "kommune_pki_dir": "$work/pki",
 "hub_fs_root": "$work/root", "hub_manage_services": false, "hub_install_packages": false,
 "hub_install_venv": false, "hub_mqtt_hostnames": ["127.0.0.1"], "hub_mosquitto_tls_port": $mqtt_port,
 "hub_mosquitto_bind_address": "127.0.0.1", "hub_mosquitto_run_user": "root",
 "hub_mosquitto_log_dest": ["file $work/mosquitto.log"],
 "hub_influx_http": "127.0.0.1:$influx_port", "hub_influx_rpc": "127.0.0.1:$rpc_port",
 "edge_agent_fs_root": "$work/root", "edge_agent_manage_services": false,
 "edge_agent_install_packages": false, "edge_agent_install_venv": false}
JSON
play() { "$venv_bin/ansible-playbook" -i localhost, -c local "$here/ci/local.yml" -e "@$work/vars.json"; }
play | tee "$work/first.log" | tail -n 4

echo "== 4. idempotence"
play > "$work/second.log"
tail -n 4 "$work/second.log"
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$work/second.log" \
  || { echo "FAIL: the second run changed something"; grep -B3 'changed:' "$work/second.log"; exit 1; }

echo "== 5. the written files work"
root="$work/root"
mosquitto -c "$root/etc/mosquitto/mosquitto.conf" >"$work/mosquitto.out" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q ' running' "$work/mosquitto.log" 2>/dev/null && break; sleep 0.2; done
grep -q ' running' "$work/mosquitto.log" || { echo "FAIL: mosquitto did not start"; cat "$work"/mosquitto.*; exit 1; }
pki="$work/pki"
mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$pki/ca.crt" --cert "$pki/issued/lamp-017.crt" \
  --key "$pki/issued/lamp-017.key" -t kommune/odense/lamp-017/status -m online -q 1
echo "ok   device certificate accepted over TLS"
if mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$pki/ca.crt" -t kommune/x/y/status -m x -q 1 2>/dev/null; then
  echo "FAIL: a client without a certificate was accepted"; exit 1; fi
echo "ok   client without certificate refused"
if mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -t kommune/x/y/status -m x -q 1 2>/dev/null; then
  echo "FAIL: plain TCP was accepted"; exit 1; fi
echo "ok   plain TCP refused"
influxd -config "$root/etc/influxdb/influxdb.conf" >"$work/influx.log" 2>&1 & pids+=($!)
ping_influx() { "$py_bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$influx_port/ping', timeout=1)" 2>/dev/null; }
for _ in $(seq 100); do ping_influx && break; sleep 0.2; done
ping_influx || { echo "FAIL: influxd did not answer"; cat "$work/influx.log"; exit 1; }
echo "ok   InfluxDB started from the rendered config"
sh -n "$root/usr/local/sbin/kommune-hub-backup" && echo "ok   backup script parses"
"$py_bin/edge-agent" render "$root/etc/kommune-edge/firmware_config/devices/lamp-017.yaml" >/dev/null
echo "ok   edge-agent renders the device file as installed"
echo "ansible checks passed"
