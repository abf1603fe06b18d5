# zcopy's build and test entry points. `make deps test` is what CI runs.
GO ?= go
PKGS := $(shell sed -e 's/\#.*//' .ci/packages.txt)

.PHONY: all build test test-short deps check cross bench fuzz clean

all: build

build:
	$(GO) build -o bin/zcopy ./cmd/zcopy

# deps installs what the tests need (Debian/Ubuntu, as root).
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PKGS)

# test runs every test, including the large-file and whole-binary ones, under
# the race detector.
test:
	$(GO) test -race -count=1 -timeout 30m ./...

# test-short skips the multi-GiB cases.
test-short:
	$(GO) test -short -count=1 ./...

# check is what a reviewer runs before reading the code.
check:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# cross builds every package for the systems zcopy supports, 64-bit and
# the 32-bit Linux ones (where system calls take 32-bit offsets and counts),
# and vets every package for the 32-bit ones, which compiles the test files
# too: a constant that overflows int, or a field that is int32 there, fails.
cross:
	for os in linux darwin freebsd windows; do for arch in amd64 arm64; do \
		echo "GOOS=$$os GOARCH=$$arch"; GOOS=$$os GOARCH=$$arch $(GO) build ./... || exit 1; \
	done; done
	for arch in 386 arm; do \
		echo "GOOS=linux GOARCH=$$arch"; GOOS=linux GOARCH=$$arch $(GO) build ./... || exit 1; \
		GOOS=linux GOARCH=$$arch $(GO) vet ./... || exit 1; \
	done

# fuzz runs each fuzz target briefly (FUZZTIME each): the protocol's
# decoders, the handshake (everything parsed before a peer is trusted), and
# zcopy http's paths, ranges, preconditions and whole requests over TCP.
# The budget is a count of inputs, not a duration: with a duration, Go
# 1.26's fuzzing coordinator can report "context deadline exceeded" as a
# failure when the time runs out mid-input (golang/go#75804, fixed in Go
# 1.27). 100,000 inputs take 2 s (the decoders) to 15 s (zcopy http's
# ranges) here, and about 60 s for whole requests, a connection each.
FUZZTIME ?= 100000x
FUZZPKGS := ./internal/proto ./internal/session ./httpserve
fuzz:
	for p in $(FUZZPKGS); do \
		for f in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./zerocopy

clean:
	rm -rf bin
