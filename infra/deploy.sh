#!/usr/bin/env bash
# Deploys template.yaml (the users API example) with the AWS SAM CLI: validates, builds the
# functions with esbuild (a devDependency: run `npm ci` first; sam build runs the esbuild it finds
# on PATH, as its copy of the code gets production dependencies only), deploys, and prints the
# outputs.
#
#   infra/deploy.sh [stack-name] [ParameterKey=Value ...]
#   infra/deploy.sh scache-users Invalidation=table-stream StreamMode=ON_DEMAND
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v sam >/dev/null; then
  echo "deploy needs the AWS SAM CLI: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html" >&2
  exit 2
fi
if [ ! -x node_modules/.bin/esbuild ]; then
  echo "deploy needs esbuild from the devDependencies: run npm ci first" >&2
  exit 2
fi

stack=${1:-scache-users-api}
shift || true
overrides=()
if [ $# -gt 0 ]; then overrides=(--parameter-overrides "$@"); fi

sam validate --lint
PATH="$PWD/node_modules/.bin:$PATH" sam build
sam deploy \
  --stack-name "$stack" \
  --resolve-s3 \
  --capabilities CAPABILITY_IAM \
  --no-confirm-changeset \
  --no-fail-on-empty-changeset \
  "${overrides[@]}"
sam list stack-outputs --stack-name "$stack" --output table
