# syntax=docker/dockerfile:1
# stock-tracker server image: every role from one image
#   docker build -f deploy/docker/server.Dockerfile -t stock-tracker/server:<version> .
#   docker run … stock-tracker/server:<version> [all|api|collector|migrate]
# Targets: `server` (default, last) and `backup` (adds the PostgreSQL 16 client
# tools for the backup/restore roles). Sizes and choices: docs/deploy.md.

# --- build: all dependencies, type-check, web bundle ------------------------
FROM node:22.22.0-alpine3.23 AS build
WORKDIR /src
# Manifests first: the dependency layer is reused until one of them changes.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/rules/package.json packages/rules/
COPY packages/trading/package.json packages/trading/
COPY packages/engine/package.json packages/engine/
COPY packages/feeds/package.json packages/feeds/
COPY packages/client/package.json packages/client/
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
# No install scripts here: this stage's node_modules is thrown away (prebuilt
# native modules load without them).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# The server runs its TypeScript through tsx, so the type-check is the gate;
# the SPA bundle lets the `all` role serve the web app from this image alone.
RUN npx tsc -p deploy/docker/tsconfig.server.json \
 && npm run build -w apps/web

# --- prod-deps: the server's runtime dependencies only ----------------------
FROM node:22.22.0-alpine3.23 AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/rules/package.json packages/rules/
COPY packages/trading/package.json packages/trading/
COPY packages/engine/package.json packages/engine/
COPY packages/feeds/package.json packages/feeds/
COPY packages/client/package.json packages/client/
COPY apps/server/package.json apps/server/
COPY apps/web/package.json apps/web/
# The root postinstall (embedded-database seed, node_modules/.cache) runs here.
COPY scripts/pglite-seed.mjs scripts/
# -w apps/server: the web app's React dependencies stay out. Then drop what
# never runs (source maps, type declarations, docs, other platforms' binaries).
RUN npm ci --omit=dev --no-audit --no-fund -w apps/server \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.md' \) -delete \
 && rm -rf node_modules/argon2/prebuilds/darwin-* node_modules/argon2/prebuilds/win32-* node_modules/argon2/prebuilds/freebsd-*

# --- runtime: node binary + app, no npm/yarn/corepack -----------------------
FROM alpine:3.23.3 AS runtime
# Only the node binary of the official image (same Alpine release, same musl):
# npm, yarn and corepack are build tools the server never runs (~20 MB).
COPY --from=node:22.22.0-alpine3.23 /usr/local/bin/node /usr/local/bin/node
RUN apk add --no-cache libstdc++ tini \
 && addgroup -S -g 10001 app \
 && adduser -S -D -H -u 10001 -G app -h /app app \
 && mkdir -p /data/spill /backups /tapes \
 && chown app:app /data /data/spill /backups
WORKDIR /app
ENV NODE_ENV=production \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    WEB_DIST=/app/apps/web/dist
# Everything root-owned and read-only for the app user: it writes only to
# /data (embedded PGlite; /data/spill, the storage writer's spill, is a volume
# initialised from this app-owned directory), /backups and /tmp (tsx's
# compile cache). /tapes is a read-only mount of backtest tapes.
COPY --from=prod-deps /src/node_modules ./node_modules
# Sources straight from the context (.dockerignore keeps tests and any local
# node_modules out); only the SPA bundle comes from the build stage.
COPY package.json tsconfig.base.json tsconfig.json ./
COPY packages ./packages
COPY apps/server ./apps/server
COPY --from=build /src/apps/web/dist ./apps/web/dist
USER 10001:10001
EXPOSE 8080
# Liveness through node itself (no curl/wget needed); roles without HTTP
# (migrate, backup) disable it in compose.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini as PID 1: forwards SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/sbin/tini", "--", "node", "apps/server/bin/stock-tracker.js"]
CMD ["all"]

# --- backup: runtime + pg_dump/pg_restore matching the PostgreSQL 16 server --
FROM runtime AS backup
USER root
RUN apk add --no-cache postgresql16-client
USER 10001:10001
CMD ["backup"]

# --- server (default target) ------------------------------------------------
FROM runtime AS server
USER 10001:10001
CMD ["all"]
