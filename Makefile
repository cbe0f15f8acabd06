# mzsync: GitOps for Materialize. `make demo` and `make test` are the two
# commands a newcomer needs.

GO        ?= go
BIN       := bin
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2
FUZZTIME  ?= 10s

.PHONY: all build test test-short soak lint bench demo fuzz generate clean postgres release image

all: build

build:
	$(GO) build -o $(BIN)/mzsync ./cmd/mzsync
	$(GO) build -o $(BIN)/mzemu ./cmd/mzemu

postgres:
	@./scripts/ensure-postgres.sh

# The whole suite, race detector on, against a real PostgreSQL and mzemu.
test: postgres
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# The soak test with its long budget: SOAK_PASSES apply passes mixing active
# switches, retention changes and faults against mzemu (make test runs 12).
# SOAK_SEED reproduces a run (the seed is logged).
SOAK_PASSES ?= 250
soak: postgres
	MZSYNC_SOAK_PASSES=$(SOAK_PASSES) MZSYNC_SOAK_SEED=$(SOAK_SEED) $(GO) test -count=1 -timeout 90m -run '^TestSoak$$' -v ./internal/e2e/

# Unit tests only (no PostgreSQL needed).
test-short:
	$(GO) test -short -count=1 $(PKGS)

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

bench: postgres
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

generate:
	$(GO) generate $(PKGS)

fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

demo: postgres build
	@./scripts/demo.sh

# Release builds: static binaries (CGO_ENABLED=0, -trimpath) for every
# RELEASE_PLATFORMS entry, each in dist/mzsync_<version>_<os>_<arch>.tar.gz
# with LICENSE and README.md, and dist/SHA256SUMS over the archives.
# VERSION, COMMIT and DATE end up in `mzsync version` through -ldflags -X.
# Each is computed once (:=), so every binary and the image share them.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
endif
ifeq ($(origin DATE),undefined)
DATE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
endif
DIST    ?= dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
RELEASE_LDFLAGS := -s -w -X main.releaseVersion=$(VERSION) -X main.releaseCommit=$(COMMIT) -X main.releaseDate=$(DATE)

release:
	rm -rf $(DIST)
	mkdir -p $(DIST)
	@set -e; for p in $(RELEASE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; name=mzsync_$(VERSION)_$${os}_$${arch}; \
	  echo "build $$name"; \
	  mkdir -p $(DIST)/$$name; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' \
	    -o $(DIST)/$$name/mzsync ./cmd/mzsync; \
	  cp LICENSE README.md $(DIST)/$$name/; \
	  tar -C $(DIST) -czf $(DIST)/$$name.tar.gz $$name; \
	  rm -rf $(DIST)/$$name; \
	done
	cd $(DIST) && if command -v sha256sum >/dev/null; then sha256sum *.tar.gz; else shasum -a 256 *.tar.gz; fi >SHA256SUMS
	@cat $(DIST)/SHA256SUMS

# The container image as a tarball, without a Docker daemon or network: a
# static linux binary for IMAGE_ARCH on an empty base (user 65532,
# entrypoint /mzsync), written by tools/mkimage with go-containerregistry.
# Load it with `docker load -i $(IMAGE_TAR)`, push it with `crane push`.
# The Dockerfile builds the same layout on gcr.io/distroless/static:nonroot.
IMAGE      ?= mzsync:$(VERSION)
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
IMAGE_TAR  ?= $(DIST)/mzsync-image-$(IMAGE_ARCH).tar
CA_CERTS   ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)

image:
	mkdir -p $(DIST)/image-$(IMAGE_ARCH)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' \
	  -o $(DIST)/image-$(IMAGE_ARCH)/mzsync ./cmd/mzsync
	$(GO) run ./tools/mkimage -binary $(DIST)/image-$(IMAGE_ARCH)/mzsync -out $(IMAGE_TAR) -tag '$(IMAGE)' \
	  -arch $(IMAGE_ARCH) -version '$(VERSION)' -commit '$(COMMIT)' -created '$(DATE)' $(if $(CA_CERTS),-ca-certs $(CA_CERTS))
	@echo "wrote $(IMAGE_TAR) ($(IMAGE))"

clean:
	rm -rf $(BIN) $(DIST)
