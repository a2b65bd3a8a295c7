# Create or reuse the project's virtual environment and install the package (sourced by the scripts).
# torch==2.13.0 (CPU) is installed first where no torch is present: letting pip resolve torch through
# MONAI on a fresh machine pulls a multi-GB CUDA build. CUDA users install their torch first (README).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REACTKD_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
fi
"$VENV/bin/python" -m pip install -q -e "$ROOT[${REACTKD_EXTRAS:-test}]"
