# syntax=docker/dockerfile:1
# stock-tracker web image: the SPA build served by an unprivileged nginx
# (static files only; /api and /ws are the edge's business).
#   docker build -f deploy/docker/web.Dockerfile -t stock-tracker/web:<version> .

# --- build: the Vite bundle (same first steps as server.Dockerfile's build stage)
FROM node:22.22.0-alpine3.23 AS build
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
# No install scripts: only the bundler runs here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build -w apps/web

# --- runtime: nginx, non-root, config rendered at build time -----------------
FROM nginxinc/nginx-unprivileged:1.30.4-alpine-slim AS runtime
USER root
COPY deploy/nginx/snippets /etc/nginx/snippets
COPY deploy/nginx/web.conf.template /etc/nginx/web.conf.template
# Rendered now rather than at start: the container then runs with a read-only
# root filesystem and nothing under /etc/nginx to write.
RUN WEB_LISTEN_PORT=8080 WEB_ROOT=/usr/share/nginx/html \
    envsubst '${WEB_LISTEN_PORT} ${WEB_ROOT}' < /etc/nginx/web.conf.template > /etc/nginx/conf.d/web.conf \
 && rm -f /etc/nginx/web.conf.template /etc/nginx/conf.d/default.conf \
 && rm -rf /usr/share/nginx/html/*
COPY --from=build /src/apps/web/dist /usr/share/nginx/html
USER 101:101
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
