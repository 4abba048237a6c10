# syntax=docker/dockerfile:1
# latchkey as a container: a static binary (CGO_ENABLED=0) on distroless's static
# base (CA certificates, /tmp, no shell, no package manager), run as its
# unprivileged user, with the data (SQLite, a generated key) in a volume.
#
#   docker build --build-arg VERSION=1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t latchkey .
#   docker run -p 3003:3003 -v latchkey-data:/var/lib/latchkey latchkey
#
# No container engine runs where latchkey is developed: docs/deployment.md says
# what of this file is tested, and how (tests/deploy).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -X github.com/latchkeyhq/latchkey/internal/app.Version=${VERSION} -X github.com/latchkeyhq/latchkey/internal/app.Commit=${COMMIT}" -o /out/latchkey ./cmd/latchkey
RUN mkdir -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
COPY --from=build --chown=65532:65532 /out/data /var/lib/latchkey
ENV LATCHKEY_ADDR=0.0.0.0:3003 \
    LATCHKEY_DATA_DIR=/var/lib/latchkey \
    LATCHKEY_LOG_FORMAT=json
USER 65532:65532
VOLUME /var/lib/latchkey
EXPOSE 3003
HEALTHCHECK --interval=30s --timeout=6s --start-period=15s --retries=3 CMD ["/usr/local/bin/latchkey", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
