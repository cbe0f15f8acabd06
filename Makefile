# mzsync: GitOps for Materialize. `make demo` and `make test` are the two
# commands a newcomer needs.

GO        ?= go
BIN       := bin
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2
FUZZTIME  ?= 10s

.PHONY: all build test test-short lint bench demo fuzz generate clean postgres

all: build

build:
	$(GO) build -o $(BIN)/mzsync ./cmd/mzsync
	$(GO) build -o $(BIN)/mzemu ./cmd/mzemu

postgres:
	@./scripts/ensure-postgres.sh

# The whole suite, race detector on, against a real PostgreSQL and mzemu.
test: postgres
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

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

clean:
	rm -rf $(BIN)
