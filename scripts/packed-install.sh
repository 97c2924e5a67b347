#!/usr/bin/env bash
# The packages as a user gets them from the registry: packs every package (prepack builds it),
# checks the tarballs and runs the publish dry run, publint and @arethetypeswrong/cli on them,
# installs them with npm into an app outside the workspace, and there checks that the READMEs
# import what the packages export, runs the ESM and CommonJS smoke tests on every supported
# framework major (Express 4/5, Koa 2/3, Fastify 4/5, Hono 4, NestJS 11 on Express and Fastify),
# and type-checks a consumer (strict, skipLibCheck false; node16, bundler, and CommonJS under
# node20) without the optional peers.
# Exits non-zero on the first failure. Usage: bash scripts/packed-install.sh (or pnpm packed-install)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/scripts/packed-install"
work="$(mktemp -d "${TMPDIR:-/tmp}/authframework-packed.XXXXXX")"
trap 'rm -rf "$work"' EXIT
packs="$work/packs"
app="$work/app"
mkdir -p "$packs" "$app"

step() { printf -- '-- %s\n' "$*"; }

step "pack (prepack builds each package)"
(cd "$root" && pnpm -r --workspace-concurrency=8 --filter './packages/*' pack --pack-destination "$packs" >/dev/null)
node "$here/check-tarballs.mjs" "$packs" "$root/LICENSE"

step "publish dry run (the release command, without publishing)"
# the packages were just built by their prepack; the release itself (pnpm release) builds again
(cd "$root" && pnpm publish -r --dry-run --no-git-checks --ignore-scripts >/dev/null)

step "publint and @arethetypeswrong/cli"
for tarball in "$packs"/*.tgz; do
  (cd "$root" && pnpm exec publint run "$tarball" --strict --level warning >/dev/null) ||
    { (cd "$root" && pnpm exec publint run "$tarball" --strict); exit 1; }
  case "$tarball" in *cli-*) continue ;; esac # a command line: no types to check
  # --profile node16: `moduleResolution: node10` cannot see subpath exports (./login) and predates
  # the Node versions we support. cjs-resolves-to-esm: CommonJS loads the packages through
  # require(esm), in every Node version `engines` allows; the CommonJS smoke test and the CommonJS
  # type-check (module node20) below prove it.
  (cd "$root" && pnpm exec attw "$tarball" --profile node16 --ignore-rules cjs-resolves-to-esm --format ascii --no-emoji --no-color >"$work/attw.txt") ||
    { cat "$work/attw.txt"; exit 1; }
done
echo "publint and attw: no problems"

step "npm install the tarballs into $app"
cp "$here"/smoke.mjs "$here"/smoke.cjs "$here"/smoke-shared.cjs "$here"/smoke-more.cjs "$here"/consumer.ts \
  "$here"/consumer.cts "$here"/readme-imports.mjs "$here"/tsconfig.*.json "$app/"
cat >"$app/package.json" <<'JSON'
{ "name": "packed-install-app", "private": true, "type": "module" }
JSON
(cd "$app" && npm install --no-audit --no-fund --loglevel=error \
  "$packs"/*.tgz \
  express@^5 express4@npm:express@^4 koa@^3 koa2@npm:koa@^2 fastify@^5 fastify4@npm:fastify@^4 \
  hono@^4 @hono/node-server@^2 @nestjs/common@^11 @nestjs/core@^11 @nestjs/platform-express@^11 \
  @nestjs/platform-fastify@^11 reflect-metadata@^0.2 rxjs@^7 \
  typescript@5.9.3 @types/node@^20.19 @types/express@^5 @types/koa@^3 >/dev/null)
# pg itself comes with the CLI; its types (and the other optional peers) must not be there
for peer in ioredis @types/pg prom-client @node-rs/argon2; do
  if [ -e "$app/node_modules/$peer" ]; then echo "optional peer $peer was installed"; exit 1; fi
done

step "the CLI from the tarball"
(cd "$app" && npx --no-install authframework --version && npx --no-install authframework keygen --alg ES256 --out "$work/keys" >/dev/null &&
  npx --no-install authframework sign --key "$work/keys/private.pem" --sub user-42 >/dev/null) ||
  { echo "the installed CLI failed"; exit 1; }

step "the READMEs import what the packages export"
cp "$root/README.md" "$app/REPOSITORY-README.md"
(cd "$app" && node readme-imports.mjs REPOSITORY-README.md)

step "smoke tests (ESM, CommonJS), no warnings"
for smoke in smoke.mjs smoke.cjs; do
  (cd "$app" && node "$smoke" 2>"$work/stderr.txt") || { cat "$work/stderr.txt"; exit 1; }
  if [ -s "$work/stderr.txt" ]; then
    echo "$smoke wrote to stderr:"; cat "$work/stderr.txt"; exit 1
  fi
done

step "type-check a consumer (strict, skipLibCheck false)"
for config in node16 bundler cjs; do
  (cd "$app" && npx tsc -p "tsconfig.$config.json") || exit 1
  echo "tsc $config: ok"
done
echo "packed-install: ok"
