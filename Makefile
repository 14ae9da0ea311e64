# The whole test suite: unit and integration tests, then every fuzz target briefly.
GO ?= go
export GOTOOLCHAIN := local

.PHONY: test unit fuzz build bench

test: unit fuzz

unit:
	$(GO) test -count=1 ./...

fuzz:
	./scripts/fuzz-smoke.sh

build:
	mkdir -p bin
	$(GO) build -trimpath -o bin/ ./cmd/...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
