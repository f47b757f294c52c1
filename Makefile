# The one test command (README): installs the peers, then runs every test,
# unit and end-to-end, with the race detector.
.PHONY: test setup run bench

GO ?= go

test: setup
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m ./...

setup:
	bash tests/setup.sh

run:
	$(GO) run ./cmd/hotline

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
