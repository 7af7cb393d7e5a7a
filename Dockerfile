# One image for every Sluice role; the role is chosen with --role (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .
ENV NODE_ENV=production PORT=8000
EXPOSE 8000
ENTRYPOINT ["node", "--import", "tsx", "server.ts"]
