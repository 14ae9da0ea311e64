# The whole test suite: unit and integration tests, then every fuzz target briefly.
GO ?= go
export GOTOOLCHAIN := local

.PHONY: test unit fuzz build bench

test: unit fuzz

unit:
	$(GO) test -count=1 ./...

fuzz:
	./scripts/fuzz-smoke.sh

# Static binaries (CGO_ENABLED=0): no dynamic loader at start-up (4 ms of every short scan here)
# and nothing to match on the machine that runs them.
build:
	mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
