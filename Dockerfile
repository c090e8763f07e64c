# syntax=docker/dockerfile:1
#
# The AppProxy image: one image for every process; the command picks it.
#   docker run IMAGE manager --config /etc/appproxy/manager.json
#   docker run IMAGE worker --config /etc/appproxy/worker.json
#   docker run IMAGE agent --config /etc/appproxy/agent.json
#   docker run -p 7070:7070 IMAGE up     (everything in one process, embedded stores)
# See deploy/kubernetes/README.md for a deployment that uses it.
#
# test/integration/deploy/dockerfile.test.ts lints this file (dockerfile-utils, the linter behind VS
# Code's Docker extension) and checks it against the repository; where the tests run there is no
# Docker engine, so the image is linted there, not built.

# The runtime the project pins and tests on: the version of its `node` devDependency.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: every dependency, then the web console (console/dist) that the manager serves.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency's install script would download a second Node.js
# runtime; npm scripts then run on the image's own Node.js, the same version.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY scripts ./scripts
COPY console ./console
RUN npm run build:console

# ---- deps: production dependencies only (tsx among them: the CLI runs the sources through it).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 reaps orphaned processes (the agent's sessions leave some) and passes signals on.
# The user's numeric id lets Kubernetes check runAsNonRoot; the manifests run as 10001 too.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 appproxy \
 && useradd --system --uid 10001 --gid appproxy --home-dir /var/lib/appproxy --create-home \
    --shell /usr/sbin/nologin appproxy
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY --from=build /src/console/dist ./console/dist
RUN ln -s /app/bin/appproxy.js /usr/local/bin/appproxy
USER 10001:10001
# Manager API (listen.port), wildcard-mode worker (port), worker admin listener (admin.port):
# the defaults of the config schema. Port-mode workers open the ports of their portRange.
EXPOSE 7070 7080 9100
# /healthz of the manager's API by default; for a worker, point it at its admin listener
# (http://127.0.0.1:9100/healthz); the agent serves no HTTP: run it with --no-healthcheck.
ENV APPPROXY_HEALTHCHECK_URL=http://127.0.0.1:7070/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.APPPROXY_HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "appproxy"]
CMD ["--help"]
