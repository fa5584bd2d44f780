# syntax=docker/dockerfile:1
# kdebug image: one image, the role is the argument (`bot`, `worker` or `all`, the default).
#
#   docker build -t kdebug:0.1.0 .
#   docker run --rm -e SLACK_BOT_TOKEN=… -e SLACK_APP_TOKEN=… -e REDIS_URL=… kdebug:0.1.0 bot
#
# Stages: `build` bundles kdebug with the dev dependencies (scripts/build.mjs: esbuild, split into
# chunks so that each process loads only what its role uses); `prod-deps` installs only the
# production dependencies; the final stage is distroless (no shell, no package manager, no npm),
# runs as the numeric non-root user 65532 and holds only dist/, config/, node_modules/ and
# package.json, owned by root and so not writable by the process.
#
# Signals: node is PID 1 here (distroless has no init). kdebug installs its own SIGTERM and SIGINT
# handlers (src/cli.ts), so `docker stop` / a pod deletion triggers a graceful stop: the bot stops
# taking commands, the worker finishes its running jobs. kdebug starts no child processes, so no
# zombies need reaping and no tini is needed. Kubernetes: terminationGracePeriodSeconds (the chart's
# default is 60) bounds how long the worker may finish in-flight jobs.
#
# No HEALTHCHECK: under Kubernetes the chart's liveness/readiness probes (/healthz, /readyz on
# KDEBUG_HEALTH_PORT) do that job. No secret is ever passed to the build: Slack tokens, the signing
# secret and Redis passwords come from the environment at run time only.

ARG NODE_VERSION=24.21.0

# ---- build: bundle kdebug and its libraries into dist/ -------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency runs code at install time (the only prod package with an install
# script, msgpackr-extract, is optional and ships prebuilt binaries).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# ---- prod-deps: production node_modules only ----------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------
# Node.js 24 (LTS) on Debian 12, distroless. For reproducible builds pin the digest too:
#   FROM gcr.io/distroless/nodejs24-debian12:nonroot@sha256:…
FROM gcr.io/distroless/nodejs24-debian12:nonroot
LABEL org.opencontainers.image.title="kdebug" \
      org.opencontainers.image.description="Slack bot that runs network diagnostics inside Kubernetes pods through ephemeral containers" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
# dist/ holds kdebug and its libraries; node_modules/ is there for the optional native add-ons the
# bundled libraries look up at run time (BullMQ's msgpackr-extract).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY package.json ./
USER 65532:65532
# Bot in HTTP mode (PORT) and the health/metrics server (KDEBUG_HEALTH_PORT).
EXPOSE 3000 8080
# distroless keeps node at /nodejs/bin/node (it is not on PATH there). A 1 MB young generation
# (V8's semi-space; the default grows to 16 MB) keeps each process about 20-60 MB smaller at no
# measurable CPU cost (bench/README.md); tests and benchmarks start node with the same flags.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "dist/cli.js"]
CMD ["all"]
