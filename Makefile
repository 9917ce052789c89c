# gonogo — run `make help` for the targets.
GO      ?= go
BIN     := bin/gonogo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Fuzz targets run for a few seconds each in `make test`.
FUZZTIME ?= 3s

.PHONY: help build demo test test-unit test-race fuzz bench fixture-image clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/gonogo (static)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gonogo

demo: build ## Start the simulated server in-process, stress-test it, write results/demo
	./$(BIN) demo --out results/demo

test: ## Run every test: vet, unit and integration tests, race tests, short fuzzing
	./scripts/test.sh

fuzz: ## Fuzz every parser for FUZZTIME each (default 3s)
	./scripts/fuzz.sh $(FUZZTIME)

bench: build ## Run the benchmarks and print the figures of the performance targets
	./scripts/bench.sh

fixture-image: ## Build the simulated server's FROM-scratch image gonogo-fixture:dev
	./scripts/fixture-image.sh gonogo-fixture:dev

clean: ## Remove build outputs and results
	rm -rf bin results
