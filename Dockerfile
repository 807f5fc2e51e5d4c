# Strongbox server image. Build: docker build -t strongbox .
# Run (data in a volume; the bootstrap administrator's file is /var/lib/strongbox/bootstrap.json):
#   docker run -d --name strongbox -p 8443:8443 -v strongbox-data:/var/lib/strongbox strongbox \
#     --public-host vault.corp.example --dns-suffix vault.corp.example \
#     --tls-cert /etc/strongbox/tls/server.pem --tls-key /etc/strongbox/tls/server-key.pem
# (mount the TLS files read-only at /etc/strongbox/tls). Settings are also read from
# STRONGBOX_* variables or a file given with --config. See docs/deploy.md.

FROM rust:1.95-slim-bookworm AS build
# aws-lc-rs builds its C library with cmake and a C compiler
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p strongbox-cli \
 && install -m 0755 target/release/strongbox /usr/local/bin/strongbox

FROM debian:bookworm-slim
# ca-certificates: trusted issuers and attestation authorities are fetched over HTTPS;
# libsofthsm2 is not included (mount your PKCS#11 module and name it with --pkcs11-module).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 strongbox \
 && useradd --system --uid 10001 --gid strongbox --home-dir /var/lib/strongbox --shell /usr/sbin/nologin strongbox \
 && install -d -m 0700 -o strongbox -g strongbox /var/lib/strongbox \
 && install -d -m 0755 /etc/strongbox
COPY --from=build /usr/local/bin/strongbox /usr/local/bin/strongbox
USER 10001:10001
VOLUME /var/lib/strongbox
EXPOSE 8443
# In a container the server listens on every address; the URLs it hands out use --public-host
# (and --public-port when the published port is not 8443).
ENV STRONGBOX_DATA_DIR=/var/lib/strongbox \
    STRONGBOX_LISTEN=0.0.0.0:8443 \
    STRONGBOX_LOG_FORMAT=json
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/strongbox", "server"]
