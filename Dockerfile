# syntax=docker/dockerfile:1
# The image of photo-api, outbox-relay and the migrator (docs/deploying.md). One image, three
# commands: the Deployment and the migrator Job choose which one runs.
#
# Build stage: the Swift 6.3 toolchain on Debian 12, with the -dev packages of the C libraries the
# package links (Package.swift). --static-swift-stdlib links the Swift runtime and Foundation into
# the binaries, so the runtime stage carries no toolchain.
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpq-dev libcurl4-openssl-dev libssl-dev libexif-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The commit `--version` and `build_info` report: pass it, since .git is not in the context
# (docker build --build-arg PHOTO_BUILD_COMMIT=$(git rev-parse --short=12 HEAD) .).
ARG PHOTO_BUILD_COMMIT=unknown
RUN PHOTO_BUILD_COMMIT=${PHOTO_BUILD_COMMIT} scripts/stamp-build.sh \
    && swift build -c release --static-swift-stdlib --product photo-api \
    && swift build -c release --static-swift-stdlib --product outbox-relay \
    && swift build -c release --static-swift-stdlib --product migrator

# Runtime stage: Debian 12 slim with only the shared libraries the binaries load and the CA
# certificates for TLS to AWS and Postgres. scripts/check-runtime-image.sh installs exactly
# RUNTIME_PACKAGES (read from this line) into a debootstrapped Debian 12 root and runs the
# binaries there, so keep the list on this one line.
FROM debian:12-slim
ARG RUNTIME_PACKAGES="libpq5 libcurl4 libexif12 libssl3 ca-certificates"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
    && rm -rf /var/lib/apt/lists/*
# uid/gid 10001, as the Kubernetes manifests' runAsUser expects.
RUN groupadd --gid 10001 photo \
    && useradd --uid 10001 --gid photo --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin photo
COPY --from=build /src/.build/release/photo-api /src/.build/release/outbox-relay \
    /src/.build/release/migrator /usr/local/bin/
# `migrator up` reads sql/ from the working directory by default.
WORKDIR /app
COPY --from=build /src/sql ./sql
USER 10001:10001
EXPOSE 8080 9091
CMD ["photo-api"]
