# The whole test suite: unit and integration tests, then every fuzz target briefly.
GO ?= go
export GOTOOLCHAIN := local

.PHONY: test unit fuzz build bench docs

test: unit fuzz

unit:
	$(GO) test -count=1 ./...

fuzz:
	./scripts/fuzz-smoke.sh

# Static binaries (CGO_ENABLED=0): no dynamic loader at start-up (4 ms of every short scan here)
# and nothing to match on the machine that runs them.
# The commit and its date are stamped with -X (GET /version, --version), so they are right even
# where VCS stamping is off (GOFLAGS=-buildvcs=false) or the tree is a tarball without .git.
BUILDINFO := github.com/stellaops/stellaops/internal/buildinfo
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
COMMIT_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)

build:
	mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(COMMIT_DATE)" -o bin/ ./cmd/...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Man pages (bin/docs/man/man1) and bash/zsh/fish completion (bin/docs/completion) of every CLI,
# generated from the cobra command trees.
docs:
	$(GO) run ./tools/gendocs -out bin/docs
