# syntax=docker/dockerfile:1
#
# ccgw's container image: a static binary on distroless, run as the nonroot user.
#
#   docker build -t ccgw --build-arg VERSION=$(git describe --tags --always) \
#                        --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker run -p 8043:8043 -v ccgw-data:/data ccgw
#
# The defaults serve the vendor API over HTTPS on 8043 with a self-signed
# certificate generated into /data (its fingerprint is on the "listening" log
# line); mount a certificate and pass --cert/--key to use your own. The admin
# listener (admin API, /metrics) stays on the container's loopback unless you
# pass --admin-addr 0.0.0.0:8044 with --admin-token-env (see deploy/).

# The Go release of go.mod's go line, on Debian 12 (bookworm).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first: this layer is kept while only the source changes.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
# Stamped into the binary: `ccgw version`, the listening log line and
# ccgw_build_info report them (cmd/ccgw/version.go).
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/ccgw ./cmd/ccgw \
 && mkdir -p /out/data

# distroless/static: CA certificates (for HTTPS push receivers), tzdata and
# /etc/passwd with the nonroot user (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ccgw /ccgw
COPY LICENSE /usr/share/doc/ccgw/LICENSE
# A named volume mounted here starts as a copy of this directory, owned by nonroot.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
# 8043: the vendor's agent API. 8044: the admin listener, when --admin-addr
# puts it on a non-loopback address.
EXPOSE 8043 8044
# The image has no shell, curl or wget to run a probe with, and ccgw has no
# probe subcommand. Whatever runs the container probes it over the network
# instead: GET /healthz (alive) and GET /readyz (store open, Redis reachable)
# on 8043 (HTTPS unless --plaintext), e.g. a Kubernetes httpGet probe with
# scheme HTTPS; deploy/docker-compose.yml watches the nodes through
# Prometheus's `up` instead.
HEALTHCHECK NONE
ENTRYPOINT ["/ccgw"]
CMD ["--addr", "0.0.0.0:8043", "--data", "/data"]
