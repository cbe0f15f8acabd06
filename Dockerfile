# mzsync's container image: a static binary on a distroless base, run as
# the non-root user 65532 (nonroot).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t mzsync .
#
# Without a Docker daemon, `make image` builds the same layout (binary at
# /mzsync, user 65532, entrypoint /mzsync) as an image tarball with
# go-containerregistry.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=
ARG DATE=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.releaseVersion=${VERSION} -X main.releaseCommit=${COMMIT} -X main.releaseDate=${DATE}" \
      -o /out/mzsync ./cmd/mzsync

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/mzsync /mzsync
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/mzsync"]
