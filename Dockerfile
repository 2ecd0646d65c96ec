# syntax=docker/dockerfile:1.7
#
# One image with every function binary (functions/*, plus todo-local for migrations); each
# Kubernetes Deployment runs its own: /usr/local/bin/<function>. Build:
#
#   docker buildx build -t todo-app:dev .
#
# or, with no Docker engine, scripts/image-check.sh (buildah), which also checks the result.
#
# Stages: chef (toolchain + cargo-chef) -> planner (the dependency recipe) -> builder
# (dependencies cooked in their own layer, cached until Cargo.toml/Cargo.lock change; then
# the workspace); web (the web app built by Vite, for the `web` function) -> runtime
# (distroless cc, non-root, no shell).

ARG RUST_VERSION=1.95
ARG CARGO_CHEF_VERSION=0.1.78
ARG NODE_VERSION=20

# The web app's static files; `npm ci` is its own layer, cached until the lock file changes.
FROM node:${NODE_VERSION}-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
ARG CARGO_CHEF_VERSION
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# librdkafka (rdkafka's default `kafka` feature) is built from source: C/C++ compilers,
# make, cmake, pkg-config, perl; zlib is linked statically (LIBZ_SYS_STATIC below).
# Versions follow the base image's Debian release (bookworm) and its security updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config perl \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# pack-relative-relocs: the binaries' relative relocations in the compact DT_RELR form, so
# a start reads a small bitmap rather than an entry per pointer, and less of each binary
# stays resident (the footprint table in docs/BENCHMARKS.md). It needs glibc 2.36, which
# both this builder and the distroless debian12 runtime have; it is set here, not for every
# build, because a binary linked so does not start on an older glibc (e.g. Ubuntu 22.04's).
ENV CARGO_TERM_COLOR=never \
    LIBZ_SYS_STATIC=1 \
    RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs"
COPY --from=planner /src/recipe.json recipe.json
# The dependency layer: rebuilt only when the recipe (manifests, lock file) changes.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo chef cook --release --locked --workspace --recipe-path recipe.json
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked --workspace --bins
# Collect the workspace's binaries, and refuse any that needs a shared library the
# distroless cc image lacks (it has glibc, libgcc_s and libstdc++ only).
RUN set -eu; mkdir -p /out; \
    for manifest in functions/*/Cargo.toml; do \
      dir="$(dirname "$manifest")"; \
      bin="$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | tail -n1)"; \
      [ -x "target/release/$bin" ] || { echo "no binary $bin for $dir" >&2; exit 1; }; \
      cp "target/release/$bin" /out/; \
    done; \
    bad="$(for b in /out/*; do ldd "$b"; done | awk '/=>/ { print $1 }' | sort -u \
      | grep -Ev '^(linux-vdso|libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[-a-z0-9_]*)\.so' || true)"; \
    [ -z "$bad" ] || { echo "binaries need libraries missing at runtime: $bad" >&2; exit 1; }; \
    ls -l /out
# The whole API's OpenAPI document, for the web function's docs page (it serves this copy
# rather than linking every function to describe them).
RUN mkdir -p /docs && target/release/todo-local openapi --functions > /docs/openapi.json

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="todo-app" \
      org.opencontainers.image.description="Todo backend: one binary per function (Dapr, Kafka, PostgreSQL)" \
      org.opencontainers.image.licenses="MIT"
COPY --from=builder /out/ /usr/local/bin/
COPY --from=web /web/dist/ /usr/share/todo/web/
COPY --from=builder /docs/openapi.json /usr/share/todo/web/docs/openapi.json
# APP_HOST: todo-local listens on loopback by default; in a container it must not.
# WEB_DIR: where the `web` function (and todo-local) find the built app.
ENV LOG_FORMAT=json \
    APP_HOST=0.0.0.0 \
    APP_PORT=8080 \
    WEB_DIR=/usr/share/todo/web
# distroless's nonroot user; the chart also sets runAsNonRoot / runAsUser 65532.
USER 65532:65532
EXPOSE 8080
# Each Deployment sets its own command (/usr/local/bin/<function>). Without one the
# container runs the all-in-one local server.
CMD ["/usr/local/bin/todo-local", "serve"]
