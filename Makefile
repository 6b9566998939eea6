# Every target here is run by CI (.ci/run: `make test` and the README's other commands), by the
# README's first command (`make demo`), or, for `make vault` and `make bao`, by `make script-check`
# in a copy of the repository; nothing in this file is left unrun.
VERSION ?= v0.1.0
PLUGIN  := vault-plugin-secrets-resamania
BIN     := .bin
SHELL   := /bin/bash
GOFLAGS_BUILD := -trimpath -ldflags "-X main.version=$(VERSION)"

# RELEASE_GO, the Go toolchain of releases, and the pinned scan and SBOM tools: scripts/pins.env.
include scripts/pins.env
# Every go command of this file runs on RELEASE_GO, which the go command fetches once from the
# module proxy: the tests prove the binary that ships, standard library included.
# `make unit GOTOOLCHAIN=local` runs on the machine's own Go instead. Vault, a test fixture, is
# built by scripts/build-vault.sh alone, which sets its own toolchain and flags whoever calls it,
# so one build serves every target and every clone on the machine.
export GOTOOLCHAIN := $(RELEASE_GO)

.PHONY: all build vault bao fake demo test unit bench e2e soak simulate lint fmt-check vet script-check fuzz release release-check vulncheck benchmark benchmark-short clean

all: build

## build: the plugin binary, into .bin/plugins/
build:
	go build $(GOFLAGS_BUILD) -o $(BIN)/plugins/$(PLUGIN) ./cmd/$(PLUGIN)

# VAULT_BIN and BAO_BIN name the user's own binaries: only read, never written. What this file
# builds or unpacks goes into .bin/ and nowhere else.

## vault: the real vault binary from its Go module (tools/vault) into .bin/vault, once
## (scripts/build-vault.sh, the one place Vault is built)
vault:
	bash scripts/build-vault.sh

## bao: the OpenBao server binary (v2.6.2), unpacked from ../shared/bin (or BAO_XZ) into .bin/bao
## after its sha256 is checked (scripts/unpack-bao.sh); never committed
bao:
	bash scripts/unpack-bao.sh

## fake: the fake Resamania server the demo runs
fake:
	go build -o $(BIN)/fake-resamania ./cmd/fake-resamania

## demo: a dev Vault, the plugin and the fake Resamania server on loopback, end to end.
## Vault is VAULT_BIN, a recent enough `vault` on PATH, or one built here (scripts/find-vault.sh)
demo: build fake
	bash scripts/demo.sh

## test: the cheap checks first (formatting, vet, the scripts' own test, unit tests with -race, the
## benchmark's figures), so a broken change fails in minutes; then the end-to-end tests on a real
## Vault and a real OpenBao side by side, Vault built only now if it is needed. Without any OpenBao
## the Vault suite runs alone and the last line says so; with CI=true or REQUIRE_OPENBAO=1 that fails
test: lint script-check unit bench
	@$(MAKE) --no-print-directory e2e

lint: fmt-check vet

fmt-check:
	@out="$$(gofmt -l . | grep -v '^tools/' || true)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	go vet ./...

## script-check: the scripts parse, hold no path of one machine, and never write over VAULT_BIN or
## BAO_BIN (scripts/script-check.sh)
script-check:
	bash scripts/script-check.sh

unit:
	go test -race -count=1 $$(go list ./... | grep -v /e2e)

## bench: a cached token read beside a minted one, in one run: times, ratio, allocations
bench:
	go test -run='^$$' -bench=. -benchtime=2000x .

## fuzz: each fuzz target for FUZZTIME (default 3m); make test runs their seeds only
fuzz:
	bash scripts/fuzz.sh

## e2e: the end-to-end suite on Vault and on OpenBao at once (scripts/e2e.sh; E2E_SERVERS=vault runs one)
e2e:
	bash scripts/e2e.sh

## soak: SOAK (default 10m) of mixed reads, gateway limits, fault bursts and plugin reloads on a real Vault; fails on anything lost
SOAK ?= 10m
soak:
	vault="$$(bash scripts/find-vault.sh)" && RESAMANIA_E2E=required RESAMANIA_SOAK=$(SOAK) VAULT_BIN="$$vault" go test -count=1 -timeout 3h -run '^TestSoak$$' -v ./e2e/

## simulate: SIM (default 10m) of random schedules of actors and faults against the plugin and the fake
## Resamania (sim_*_test.go), from a random base seed it prints; a failure prints its seed, its history
## and the command that replays it. `go test -run TestSimulation .` runs the fixed 2,000 schedules
SIM ?= 10m
simulate:
	go test -count=1 -timeout 0 -run '^TestSimulationLong$$' -v . -sim=$(SIM)

## benchmark: BENCHMARKS.md's figures at full size (about 30 minutes; run it on a quiet machine): the
## table, benchmark/results.json and benchmark/ratios.svg, for BENCHMARKS.md. CI runs benchmark-short
benchmark:
	vault="$$(bash scripts/find-vault.sh)" && VAULT_BIN="$$vault" go run ./benchmark -json benchmark/results.json -svg benchmark/ratios.svg

## benchmark-short: the same program with few rounds and small counts (about 6 minutes); it fails
## only when something does not work, never on a timing
benchmark-short:
	vault="$$(bash scripts/find-vault.sh)" && VAULT_BIN="$$vault" go run ./benchmark -short -json $(BIN)/benchmark-short/results.json -svg $(BIN)/benchmark-short/ratios.svg

## release: every platform's binary with VERSION stamped in, built by RELEASE_GO whatever Go the
## machine has, a CycloneDX SBOM beside each, and SHA256SUMS of them all, into dist/VERSION/;
## refused when CHANGELOG.md has no "## [X.Y.Z] - YYYY-MM-DD" entry for VERSION (vX.Y.Z)
release:
	bash scripts/release.sh $(VERSION)

## release-check: a dry run of the same, built twice from nothing in temporary folders: the sums
## must match (reproducible, SBOMs included); no CHANGELOG entry needed, nothing left in dist/
release-check:
	bash scripts/release.sh $(VERSION) --check

## vulncheck: govulncheck (pinned) on every package, with RELEASE_GO, against the Go vulnerability
## database built offline from the pinned golang.org/x/vulndb; fails on a vulnerability the code calls
## that has a fix, or one without a fix that security/vulncheck-accepted.txt does not explain
vulncheck:
	bash scripts/vulncheck.sh

clean:
	rm -rf $(BIN)/plugins $(BIN)/fake-resamania .demo dist
