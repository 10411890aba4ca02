# hagen: render HA deployments from one CUE spec and prove their failover.
GO      ?= go
BIN     := bin/hagen
EXAMPLE ?= examples/dual-site.cue
OUT     ?= out

.PHONY: all build demo test test-short golden lint bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hagen

## demo: render the bundled dual-site example into out/
demo: build
	$(BIN) validate $(EXAMPLE)
	$(BIN) render $(EXAMPLE) -o $(OUT)
	@echo "see $(OUT)/RUNBOOK.md"

## test: lint, unit, golden, CLI script tests, the Docker-backed suites, and
## 20 s of fuzzing the spec loader
test: lint
	$(GO) test -count=1 -timeout 40m ./...
	$(GO) test ./schema -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20s -fuzzminimizetime 5s

## test-short: everything that needs no Docker engine
test-short: lint
	$(GO) test -count=1 -short ./...

## golden: re-render golden/ from examples/ (review the diff before committing)
golden:
	$(GO) test ./render -run TestGolden -update

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	$(GO) vet ./...

## bench: render benchmarks (compare runs with benchstat)
bench:
	$(GO) test ./render -run '^$$' -bench BenchmarkRender -benchmem -count 6

## fuzz: search longer for spec inputs that crash or stall the loader
FUZZTIME ?= 10m
fuzz:
	$(GO) test ./schema -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s

clean:
	rm -rf bin $(OUT)
