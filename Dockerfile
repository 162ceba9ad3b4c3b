# syntax=docker/dockerfile:1
# Tenantry: compiled JavaScript on plain Node (no tsx), as a non-root user.
#   docker build -t tenantry .
#   docker run -p 8000:8000 -e SECRET_KEY=... -e DATABASE_URL=postgres://... tenantry
ARG NODE_VERSION=24

# 1. Compile TypeScript to dist/ (needs the dev dependencies).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. The runtime image: dist/, production node_modules, package.json (read for the version), the CLI bin.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# DATA_DIR holds the embedded database (when DATABASE_URL is unset) and the file mail outbox: writable by `node`.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8000
# Liveness through the same port the server listens on; node:24-slim has no curl, Node has fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node handles SIGTERM itself (graceful stop, workers included); source maps give TypeScript stack traces;
# --liftoff-only keeps V8's optimizing compiler off the embedded engine's WebAssembly (README: embedded memory).
CMD ["node", "--liftoff-only", "--enable-source-maps", "dist/main.js"]
