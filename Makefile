# Skiff — the two commands are `make run` and `make test`. Both install what a fresh Debian
# machine lacks first. Builds go to a cache outside the clone when one exists (reused, never
# required): CARGO_TARGET_DIR defaults to ~/.cache/skiff/target.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/skiff/target
export CARGO_TERM_COLOR ?= never
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the tests need: a real OpenSSH server and client (sshd, ssh-keygen, sftp, scp).
TEST_APT := openssh-server openssh-client
# The benchmark also compares against these peers.
BENCH_APT := rsync rclone lftp

.PHONY: run test bench deps deps-bench build clippy fmt

deps:
	@missing=""; for p in $(TEST_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@command -v cargo >/dev/null || { echo "cargo is missing: install Rust (rustup) first"; exit 1; }

deps-bench: deps
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

build: deps
	cargo build --release --locked -p skiff-cli

# The desktop window arrives with the app issue; until then `make run` builds the CLI and
# shows how to use it.
run: build
	@echo "Built $(CARGO_TARGET_DIR)/release/skiff"
	$(CARGO_TARGET_DIR)/release/skiff --help

test: deps
	cargo build --release --locked -p skiff-cli
	SKIFF_BIN=$(CARGO_TARGET_DIR)/release/skiff cargo test --locked --workspace --release -- --test-threads=2

bench: deps-bench
	cargo build --release --locked -p skiff-cli -p skiff-tests
	$(CARGO_TARGET_DIR)/release/skiff-bench --skiff $(CARGO_TARGET_DIR)/release/skiff $(BENCH_ARGS)

clippy:
	cargo clippy --workspace --all-targets
