# Meridian container image: a static binary on distroless, as user 65532.
#
#   docker build -t meridian --build-arg VERSION=$(git describe --tags --always --dirty) \
#       --build-arg COMMIT=$(git rev-parse --short HEAD) .
#
# The Helm chart (deploy/helm/meridian) runs it with
#   serve --config /etc/meridian/config/meridian.yaml
# on unprivileged ports (DNS 5353, HTTP 8053, gossip 7946).

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=none
WORKDIR /src
# dependencies first: this layer is reused while go.mod and go.sum stay the same
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
    -o /out/meridian ./cmd/meridian

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/meridian /meridian
USER 65532:65532
EXPOSE 5353/udp 5353/tcp 8053/tcp 7946/udp 7946/tcp
ENTRYPOINT ["/meridian"]
CMD ["serve", "--config", "/etc/meridian/config/meridian.yaml"]
