# One image for every Sluice role; the role is chosen with --role (see docker-compose.yml). Node 24
# runs the TypeScript sources as they are (type stripping): no build step, so the image is the
# production dependencies plus the sources the roles run, nothing else (no tests, SDKs, scripts).

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# npm 11 (Node 24's) refuses this lock file in `npm ci` for lacking chdb's optional darwin/arm64
# packages; `npm install` accepts it and installs what the lock names, as scripts/ensure-deps.sh
# does. If it had to change the lock, package.json and the lock are out of sync: fail.
RUN sha256sum package-lock.json >/tmp/lock.sum \
 && if ! npm ci --omit=dev --no-audit --no-fund; then \
      echo "npm ci failed; retrying with npm install (package-lock.json must stay unchanged)" >&2; \
      npm install --omit=dev --no-audit --no-fund && sha256sum -c --quiet /tmp/lock.sum; \
    fi \
 && npm cache clean --force

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json server.ts ./
COPY lib ./lib
COPY ingest ./ingest
COPY processors ./processors
COPY query-api ./query-api
COPY schemas ./schemas
COPY migrations ./migrations
# The code belongs to root and is read-only to the process; only the embedded ClickHouse's data
# directory (SLUICE_CHDB_PATH, used when CLICKHOUSE_URL is unset) is writable.
RUN mkdir -p /app/.sluice && chown node:node /app/.sluice
USER node
# kafkajs's negative setTimeout delay (kafkajs#1751) warns on Node >= 23; Node clamps it to 1 ms.
# V8's code cache in the writable directory: later starts skip compiling (and type stripping).
ENV PORT=8000 NODE_OPTIONS=--disable-warning=TimeoutNegativeWarning NODE_COMPILE_CACHE=/app/.sluice/compile-cache
EXPOSE 8000
# The slim image has no curl or wget: Node asks /health itself.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "server.ts"]
