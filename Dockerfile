# syntax=docker/dockerfile:1
# subnet-bootnode (SPEC §4) as a container:
#   docker build -t subnet-bootnode .
#   docker run -d -e SUBNET_BOOTNODE_SUBNET_ID=<id> -e SUBNET_BOOTNODE_API_HOST=0.0.0.0 \
#     -p 31330:31330 -p 127.0.0.1:8000:8000 -v bootnode-data:/data -v bootnode-keys:/keys subnet-bootnode
# Configuration is by SUBNET_BOOTNODE_* variables (or flags after the image name, e.g. `run --log-level debug`).
#
# Node 24 is the Active LTS line (supported until April 2028; package.json allows >=22.12). bookworm-slim is the
# official Debian 12 slim variant: glibc, so classic-level's prebuilt binary loads without a compiler, which
# alpine (musl) would need. Override with --build-arg NODE_IMAGE=node:22-bookworm-slim if you must.
# test/docker/image-steps.test.ts runs this file's build and run steps in a temp dir (no Docker engine there).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: dev dependencies, TypeScript → dist, then the package exactly as npm would publish it
FROM ${NODE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# Scripts off: `prepare` (the build) needs the sources, copied below, and no dependency needs a compiler here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY docs ./docs
COPY web ./web
COPY README.md LICENSE ./
# `npm pack` keeps what package.json `files` lists (bin, dist, docs, …) and nothing else; then production
# dependencies only, from the same lock file.
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /app \
 && tar -xzf /tmp/subnet-bootnode-*.tgz -C /app --strip-components=1 \
 && cp package-lock.json /app/ \
 && cd /app \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: production dependencies only, as the unprivileged `node` user
FROM ${NODE_IMAGE}
# The identity (peer id = the on-chain bootnode address) and the peer store persist in /data, the key
# store in /keys; the key CLI (`docker exec … subnet-add-api-key --owner x`) finds the same file.
# The API stays on 127.0.0.1 unless SUBNET_BOOTNODE_API_HOST=0.0.0.0 is set deliberately (SPEC §1).
ENV NODE_ENV=production \
    SUBNET_BOOTNODE_IDENTITY_PATH=/data/identity.key \
    SUBNET_BOOTNODE_DATA_DIR=/data \
    SUBNET_BOOTNODE_KEYS_FILE=/keys/bootnode_rest_keys.json \
    BOOTNODE_KEYS_FILE=/keys/bootnode_rest_keys.json
WORKDIR /app
COPY --from=build /app ./
RUN ln -s /app/bin/subnet-bootnode.js /usr/local/bin/subnet-bootnode \
 && ln -s /app/bin/subnet-add-api-key.js /usr/local/bin/subnet-add-api-key \
 && mkdir -p /data /keys \
 && chown node:node /data /keys
USER node
VOLUME ["/data", "/keys"]
# libp2p (TCP) and the REST API.
EXPOSE 31330 8000
# No curl in slim images: node's own fetch. 503 ("starting") until the DHT is up counts as unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SUBNET_BOOTNODE_API_PORT || 8000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["subnet-bootnode"]
CMD ["run"]
