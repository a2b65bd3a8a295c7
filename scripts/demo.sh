#!/usr/bin/env bash
# Install (reusing .venv) and run the main job on the embedded phantom cohort. Extra args go to `reactkd demo`.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
exec "$VENV/bin/reactkd" demo "$@"
