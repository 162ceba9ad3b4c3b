#!/usr/bin/env bash
# Installs the Debian packages of the FastAPI peer server (bench/peers/fastapi_app.py) if missing, then prints
# their versions. Idempotent: a second run installs nothing. Nothing comes from pip.
#
#   sudo scripts/install-bench-peer.sh      (or as root)
#
# The packages go into /usr/lib/python3/dist-packages, which only Debian's /usr/bin/python3 sees (a pyenv or
# virtualenv `python3` earlier on PATH does not): the peer is run with /usr/bin/python3 (PEER_PYTHON overrides).
set -euo pipefail

PACKAGES=(python3-fastapi python3-asyncpg python3-uvloop python3-uvicorn)
PYTHON=${PEER_PYTHON:-/usr/bin/python3}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "already installed: ${PACKAGES[*]}"
fi

echo "Debian packages:"
for pkg in "${PACKAGES[@]}"; do
  printf '  %-18s %s\n' "$pkg" "$(dpkg-query -W -f='${Version}' "$pkg")"
done
echo "as seen by $PYTHON:"
"$PYTHON" - <<'PY'
import sys
import asyncpg, fastapi, pydantic, starlette, uvicorn, uvloop
print(f"  python    {sys.version.split()[0]}")
for m in (fastapi, starlette, pydantic, uvicorn, uvloop, asyncpg):
    print(f"  {m.__name__:<9} {m.__version__}")
PY
