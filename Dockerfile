# syntax=docker/dockerfile:1
# pgwarden as a container: `pgwarden serve` (schedules, metrics, API, pull-mode WAL archiving) with the
# PostgreSQL client tools of one major version. Build, run and the config it needs: docs/runbook.md.
#
#   docker build --build-arg PG_MAJOR=16 -t pgwarden:16 .
#
# PG_MAJOR must be at least the major version of every server it backs up (pg_dump refuses a newer server).
# The compressors (zstd, pigz for gzip, lz4) run as child processes; pgwarden checks them at start. igzip
# (isal) decompresses gzip about three times faster than pigz; without it pgwarden falls back to pigz.
# The client tools come from the PostgreSQL project's apt repository (apt.postgresql.org, "PGDG"), which has
# every supported major for Debian 12; Debian's own archive has only 15.

# --- build: compile the TypeScript, then keep only the production dependencies -------------------------
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here; the build runs below instead.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# tsc into dist/src, then scripts/bundle.js into dist/bundle: what bin/pgwarden.js runs.
COPY scripts ./scripts
RUN npm run build
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY sql ./sql

# --- pgdg-keyring: the PGDG signing key as Debian ships it (postgresql-common), so nothing unsigned is fetched
FROM debian:bookworm-slim AS pgdg-keyring
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-common \
 && test -s /usr/share/postgresql-common/pgdg/apt.postgresql.org.gpg

# --- runtime ---------------------------------------------------------------------------------------------
FROM node:22-bookworm-slim AS runtime
ARG PG_MAJOR=15
LABEL org.opencontainers.image.title="pgwarden" \
      org.opencontainers.image.description="PostgreSQL backups that are verified, restorable, and watched" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=pgdg-keyring /usr/share/postgresql-common/pgdg/apt.postgresql.org.gpg /usr/share/keyrings/apt.postgresql.org.gpg
# ca-certificates first: apt needs it to reach the PGDG repository over https.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    printf '%s\n' \
      'Types: deb' \
      'URIs: https://apt.postgresql.org/pub/repos/apt' \
      'Suites: bookworm-pgdg' \
      'Components: main' \
      'Signed-By: /usr/share/keyrings/apt.postgresql.org.gpg' \
      > /etc/apt/sources.list.d/pgdg.sources; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" tar gzip zstd pigz lz4 isal; \
    rm -rf /var/lib/apt/lists/*; \
    "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump" --version; \
    zstd --version; pigz --version; lz4 --version; igzip --version

# A fixed uid/gid, so volumes and Kubernetes securityContext (runAsUser, fsGroup) can name it.
RUN set -eux; \
    groupadd --gid 10001 pgwarden; \
    useradd --uid 10001 --gid pgwarden --home-dir /var/lib/pgwarden --no-create-home --shell /usr/sbin/nologin pgwarden; \
    install -d -o pgwarden -g pgwarden -m 0700 /backups /var/lib/pgwarden; \
    install -d -o root -g pgwarden -m 0750 /etc/pgwarden

# The application belongs to root: the service can read it but not change it.
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/bundle ./dist/bundle
# The status page's own script, stylesheet and icon (uPlot comes from node_modules).
COPY --from=build /src/src/ui/static ./src/ui/static
COPY --from=build /src/bin ./bin
COPY --from=build /src/sql ./sql
RUN ln -s /app/bin/pgwarden.js /usr/local/bin/pgwarden

ENV NODE_ENV=production \
    PGWARDEN_CONFIG=/etc/pgwarden/pgwarden.yml

# Backups when storage.local.path is /backups; mount a named volume or a host directory here.
VOLUME /backups
# server.port; the config must set server.host: 0.0.0.0 inside a container (docs/docker/pgwarden.yml).
EXPOSE 9187
USER 10001:10001

# /healthz answers as soon as the HTTP server runs; node's fetch, so no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9187/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "/app/bin/pgwarden.js"]
CMD ["serve"]
