# One image for every Sluice role; the role is chosen with --role (see docker-compose.yml).
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# npm 11 (Node 24's) refuses package-lock.json in `npm ci` for lacking chdb's optional darwin/arm64
# packages; `npm install` accepts it and installs what the lock names (see scripts/ensure-deps.sh).
RUN npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund
COPY . .
# kafkajs's negative setTimeout delay (kafkajs#1751) warns on Node >= 23; Node clamps it to 1 ms.
ENV NODE_ENV=production PORT=8000 NODE_OPTIONS=--disable-warning=TimeoutNegativeWarning
EXPOSE 8000
# Node 24 runs the TypeScript sources as they are (type stripping): no build step, no loader.
ENTRYPOINT ["node", "server.ts"]
