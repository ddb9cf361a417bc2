#!/usr/bin/env bash
# Offline demo: the venue simulator plus the daemon on the embedded lake, until Ctrl-C.
# Faults can be switched on: DEMO_FAULTS="--fault disconnects --fault dropped-runs" make demo
set -euo pipefail
BIN=${BIN:-.venv/bin}
"$BIN/schemahub" sim --port-base 9100 ${DEMO_FAULTS:-} &
SIM=$!
trap 'kill -TERM "$SIM" 2>/dev/null; wait "$SIM" 2>/dev/null || true' EXIT
"$BIN/python" - <<'PY'
import socket, time
deadline = time.monotonic() + 30
for port in (9100, 9101, 9102):
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the simulator did not open port {port}")
            time.sleep(0.1)
PY
echo "simulator up; starting the daemon (metrics: http://127.0.0.1:8080/metrics, Ctrl-C stops)"
"$BIN/schemahub" --config config/demo.yaml serve
