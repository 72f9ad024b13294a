#!/usr/bin/env bash
# Installs everything Stellar needs on a fresh Debian/Ubuntu machine with Node.js >= 20:
# Debian packages (OpenBLAS, a C++ toolchain, Open MPI for `mpirun -np N` data parallelism, Chromium for
# the chat page's headless-browser test), pnpm,
# the workspace's node modules; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in libopenblas-dev g++ make python3 openmpi-bin libopenmpi-dev chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[bootstrap] installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "[bootstrap] Node.js >= 20 is required (found $(node -v))" >&2
  exit 1
fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "[bootstrap] installing pnpm"
  npm i -g pnpm@10.34.9 >/dev/null 2>&1
fi

# onnxruntime-node's postinstall would try to download GPU providers from outside the registry.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile --reporter=append-only 2>&1 | tail -n 3
else
  pnpm install --reporter=append-only 2>&1 | tail -n 3
fi
