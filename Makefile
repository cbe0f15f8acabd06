# mzsync: GitOps for Materialize. `make demo` and `make test` are the two
# commands a newcomer needs.

GO        ?= go
BIN       := bin
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2
FUZZTIME  ?= 10s

.PHONY: all build test test-short soak lint bench demo fuzz generate clean postgres

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

clean:
	rm -rf $(BIN)
