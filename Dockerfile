# syntax=docker/dockerfile:1.7
# mana-core-auth: built with cargo, run as an unprivileged user on a slim Debian with nothing
# but the binary and CA certificates.

FROM rust:1.95-slim-bookworm AS build
# aws-lc-rs (token signatures) compiles C; cmake and perl are its build tools.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake perl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# The registry and target directory are build caches, kept between builds by BuildKit.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mana-server --bin mana-core-auth \
    && install -m 0755 target/release/mana-core-auth /mana-core-auth

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mana \
    && useradd --system --uid 10001 --gid mana --home-dir /app --shell /usr/sbin/nologin mana \
    && mkdir -p /app/data /app/keys \
    && chown -R mana:mana /app
COPY --from=build /mana-core-auth /usr/local/bin/mana-core-auth
USER mana:mana
WORKDIR /app
ENV ENVIRONMENT=production \
    LISTEN_ADDR=0.0.0.0:3001 \
    KEYS_DIR=/app/keys \
    LOG_FORMAT=json
EXPOSE 3001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["mana-core-auth", "healthcheck", "--timeout", "2"]
ENTRYPOINT ["mana-core-auth"]
CMD ["serve"]
