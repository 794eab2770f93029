# syntax=docker/dockerfile:1
# hoist: `hoist serve` by default. Build: docker build -t hoist .
#
# Stage 1 builds the release binary; stage 2 is Debian slim with only
# what hoist runs: git (every push and fetch goes through it) and the CA
# bundle. Runs as an unprivileged user with a read-only root in mind:
# the state directory is a volume.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin hoist \
    && strip target/release/hoist

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.39.* ca-certificates=20230311* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 hoist \
    && useradd --uid 65532 --gid 65532 --home-dir /home/hoist --create-home --shell /usr/sbin/nologin hoist \
    && install -d -o 65532 -g 65532 /var/lib/hoist
COPY --from=build /src/target/release/hoist /usr/local/bin/hoist
USER 65532:65532
ENV HOME=/home/hoist
WORKDIR /home/hoist
VOLUME ["/var/lib/hoist"]
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/hoist"]
CMD ["serve", "--config", "/etc/hoist/hoist.toml", "--listen", "0.0.0.0:8080", "--state-dir", "/var/lib/hoist"]
