# Shared by scripts/serve and scripts/test: make .venv hold this project and its dependencies.
# Re-installs only when pyproject.toml, setup.py or a message catalogue changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3 || command -v python3.11)}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
    echo "serviceorder needs Python 3.11 or later; found $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3." >&2
    exit 2
fi
extras="$1"
# The message catalogues are compiled at install (setup.py): a changed .po reinstalls too.
stamp=".venv/.installed-$(cat pyproject.toml setup.py projections/locale/*/LC_MESSAGES/*.po | sha256sum | cut -c1-16)-${extras:-base}"
if [ ! -f "$stamp" ]; then
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
