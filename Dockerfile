# syntax=docker/dockerfile:1
# Runner's container image: the esbuild bundle on Node 24 with terraform, helm, kubectl and git for jobs.
#
#   docker build --build-arg RUNNER_COMMIT="$(git rev-parse HEAD)" -t runner .
#   docker run --stop-timeout 630 --env-file runner.env runner install   # RUNNER_API_URL, RUNNER_ID, RUNNER_API_TOKEN
#
# Base images are pinned by tag. Release builds should pin the digest as well, e.g.
#   FROM node:24.21.0-bookworm-slim@sha256:<digest>   (docker buildx imagetools inspect node:24.21.0-bookworm-slim)
# The digest could not be looked up where this file was written (no registry access), so it is left out.
# Every downloaded binary is verified with sha256sum -c against the checksums below, published by its project;
# change a version and its checksums together.

ARG NODE_VERSION=24.21.0

# ---- build: npm ci, then the bundle (dist/runner.mjs and its chunks) -------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the image has Node 24 already (the `node` devDependency's installer is not wanted) and
# esbuild finds its binary through its optional platform package
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY scripts ./scripts
ARG RUNNER_COMMIT=unknown
RUN RUNNER_COMMIT="${RUNNER_COMMIT}" node scripts/build.ts --outdir /out

# ---- tools: terraform, helm, kubectl, each checksum-verified before it is unpacked -----------------------
FROM node:${NODE_VERSION}-bookworm-slim AS tools
ARG TARGETARCH=amd64
ARG TERRAFORM_VERSION=1.11.4
ARG TERRAFORM_SHA256_AMD64=1ce994251c00281d6845f0f268637ba50c0005657eb3cf096b92f753b42ef4dc
ARG TERRAFORM_SHA256_ARM64=a43d1d0da9b9bab214a8305a39db0e40869572594ccf50c416a7756499143633
ARG HELM_VERSION=3.19.0
ARG HELM_SHA256_AMD64=a7f81ce08007091b86d8bd696eb4d86b8d0f2e1b9f6c714be62f82f96a594496
ARG HELM_SHA256_ARM64=440cf7add0aee27ebc93fada965523c1dc2e0ab340d4348da2215737fc0d76ad
ARG KUBECTL_VERSION=1.34.0
ARG KUBECTL_SHA256_AMD64=cfda68cba5848bc3b6c6135ae2f20ba2c78de20059f68789c090166d6abc3e2c
ARG KUBECTL_SHA256_ARM64=00b182d103a8a73da7a4d11e7526d0543dcf352f06cc63a1fde25ce9243f49a0
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /tools
RUN case "${TARGETARCH}" in \
      amd64) sum="${TERRAFORM_SHA256_AMD64}" ;; \
      arm64) sum="${TERRAFORM_SHA256_ARM64}" ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && curl -fsSL -o terraform.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip" \
 && echo "${sum}  terraform.zip" | sha256sum -c - \
 && unzip -q terraform.zip terraform -d bin \
 && rm terraform.zip
RUN case "${TARGETARCH}" in \
      amd64) sum="${HELM_SHA256_AMD64}" ;; \
      arm64) sum="${HELM_SHA256_ARM64}" ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && curl -fsSL -o helm.tar.gz "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" \
 && echo "${sum}  helm.tar.gz" | sha256sum -c - \
 && tar -xzf helm.tar.gz --strip-components=1 -C bin "linux-${TARGETARCH}/helm" \
 && rm helm.tar.gz
RUN case "${TARGETARCH}" in \
      amd64) sum="${KUBECTL_SHA256_AMD64}" ;; \
      arm64) sum="${KUBECTL_SHA256_ARM64}" ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && curl -fsSL -o kubectl "https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl" \
 && echo "${sum}  kubectl" | sha256sum -c - \
 && install -m 0755 kubectl bin/kubectl \
 && rm kubectl \
 && chmod 0755 bin/*

# ---- runtime: node, the bundle, the tools, git and tini; no compiler, no curl, no npm -------------------
FROM node:${NODE_VERSION}-bookworm-slim
# Debian's archive signature covers these packages' checksums; bump a pin when Debian ships a fix
ARG GIT_VERSION=1:2.39.5-0+deb12u3
ARG TINI_VERSION=0.19.0-1+b3
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends "git=${GIT_VERSION}" "tini=${TINI_VERSION}" ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && groupadd --system --gid 10001 runner \
 && useradd --system --uid 10001 --gid runner --home-dir /var/lib/runner --no-create-home \
      --shell /usr/sbin/nologin runner \
 && install -d -o runner -g runner -m 0700 /var/lib/runner
COPY --from=tools /tools/bin/ /usr/local/bin/
COPY --from=build /out/ /app/
RUN ln -s /app/runner.mjs /usr/local/bin/runner

# The admin server must be reachable from outside the container for probes; the state dir is a volume.
ENV NODE_ENV=production \
    HOME=/var/lib/runner \
    RUNNER_STATE_DIR=/var/lib/runner \
    RUNNER_ADMIN_HOST=0.0.0.0 \
    RUNNER_ADMIN_PORT=5000 \
    RUNNER_LOG_FORMAT=json
VOLUME ["/var/lib/runner"]
EXPOSE 5000
USER 10001:10001
WORKDIR /var/lib/runner
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.RUNNER_ADMIN_PORT || 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1: it forwards SIGTERM to the runner (which drains) and reaps orphaned job processes
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/runner.mjs"]
CMD ["run"]
