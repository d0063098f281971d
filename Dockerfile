# roost's container image: a Rust builder stage compiles the release binary, a Debian slim
# runtime stage runs it as the non-root user `roost` (uid 10143) with base_dir /run/roost.
#
#   docker build -t roost .            # or: podman build -t roost .
#   docker run -d -p 9900:9900 roost   # metrics on http://localhost:9900/metrics
#
# Both base images are build arguments so the image can be built without a registry
# (scripts/container-test.sh builds local stand-ins and passes them here).

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
WORKDIR /src

# Dependencies first, against a dummy crate with the same targets, so that editing the
# sources does not rebuild them. (Every [[bench]] Cargo.toml declares must exist.)
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && for b in $(grep -A1 '^\[\[bench\]\]' Cargo.toml | sed -n 's/^name = "\(.*\)"$/\1/p'); do \
           echo 'fn main() {}' > "benches/$b.rs"; \
       done \
    && cargo build --release --locked \
    && rm -rf src benches \
        target/release/roost target/release/deps/roost-* target/release/deps/libroost-* \
        target/release/.fingerprint/roost-*

COPY . .
RUN cargo build --release --locked \
    && install -D -m 0755 target/release/roost /out/roost \
    && /out/roost --version

FROM ${RUNTIME_IMAGE}

ARG ROOST_UID=10143
RUN groupadd --system --gid "${ROOST_UID}" roost \
    && useradd --system --uid "${ROOST_UID}" --gid roost --home-dir /run/roost \
        --no-create-home --shell /usr/sbin/nologin roost \
    && install -d -o roost -g roost -m 0750 /run/roost

COPY --from=builder /out/roost /usr/local/bin/roost

# base_dir (control socket, unix listeners, the generated self-signed certificate) and
# listening on every address so published ports are reachable from outside the container.
# Any other setting: ROOST_<SETTING>, `__` for nesting, or a TOML file via -c / ROOST_CONFIG.
ENV ROOST_BASE_DIR=/run/roost \
    ROOST_LISTEN="*"

# The embedded default: POP3 10110 (STLS) and 10995 (implicit TLS), LMTP 10024, and the
# stats service's Prometheus endpoint /metrics on 9900. Publish the ones you configure.
EXPOSE 9900 10143 10993 10110 10995 10024

USER roost
WORKDIR /run/roost

HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD ["roost", "ps"]

ENTRYPOINT ["roost"]
CMD ["serve"]
