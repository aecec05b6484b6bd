# syntax=docker/dockerfile:1
# shardmax: one image for every role. The entry point is the CLI; the role
# (`shard`, `gateway`) comes from the container's args and all configuration
# from SHARDMAX_* environment variables (a ConfigMap in k8s/): nothing about a
# deployment is baked in.
#
#   docker build -t REGISTRY/shardmax:TAG .      (BuildKit sets TARGETARCH)

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Compile the TypeScript sources to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# No install scripts: `prepare` would build before the sources are copied, and
# onnxruntime-node's would download CUDA binaries (its CPU ones ship in the package).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY shared ./shared
COPY services ./services
COPY sdk ./sdk
RUN npx tsc -p . && chmod 0755 dist/services/cli/main.js

# 2. Production dependencies only, and only this platform's onnxruntime binaries:
#    onnxruntime-node ships darwin, win32 and linux builds for two CPUs each
#    (~300 MB); keeping linux/<arch> leaves ~46 MB (x64) or ~26 MB (arm64).
FROM ${NODE_IMAGE} AS deps
ARG TARGETARCH
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && arch="$(case "${TARGETARCH:-$(dpkg --print-architecture)}" in amd64) echo x64 ;; arm64) echo arm64 ;; *) echo none ;; esac)" \
 && ls -d node_modules/onnxruntime-node/bin/napi-v*/linux/"${arch}" \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -name "${arch}" -exec rm -rf {} +

# 3. The runtime: node, the production dependencies, the compiled CLI and the
#    data files it reads at run time (the .proto contracts), all owned by root
#    and read-only to the user that runs them.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY shared/onnx/onnx-subset.proto ./shared/onnx/onnx-subset.proto
COPY services/gateway/status-page ./services/gateway/status-page
# The node image's unprivileged user, by number so that Kubernetes'
# runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000
# shard gRPC, gateway REST, gateway gRPC
EXPOSE 50051 8080 50050
ENTRYPOINT ["node", "/app/dist/services/cli/main.js"]
CMD ["--help"]
