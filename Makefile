# Skiff — the two commands are `make run` and `make test`. Both install what a fresh Debian
# machine lacks first. Builds go to a cache outside the clone when one exists (reused, never
# required): CARGO_TARGET_DIR defaults to ~/.cache/skiff/target.

SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c
export CARGO_TARGET_DIR ?= $(HOME)/.cache/skiff/target
export CARGO_TERM_COLOR ?= never
# `cargo install` puts tauri-driver here; make sure this and the tests find it.
export PATH := $(HOME)/.cargo/bin:$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the tests need: a real OpenSSH server and client (sshd, ssh-keygen, sftp, scp),
# ProFTPD with mod_sftp (tests/tests/proftpd.rs: a second, differently built SFTP server), and
# what the hostile-server tests use to bound a run (prlimit from util-linux, python3).
TEST_APT := openssh-server openssh-client proftpd-core proftpd-mod-crypto util-linux python3
# The desktop window (Tauri v2 on WebKitGTK), its GUI end-to-end tests (Xvfb, WebKitWebDriver,
# ImageMagick's `import` for screenshots) and a real Secret Service (gnome-keyring on a
# private D-Bus session, `secret-tool`).
APP_APT := libwebkit2gtk-4.1-dev build-essential libssl-dev libayatana-appindicator3-dev \
	librsvg2-dev libxdo-dev pkg-config file libdbus-1-dev xvfb xauth imagemagick \
	webkit2gtk-driver gnome-keyring dbus-x11 libsecret-tools
# The benchmark also compares against these peers.
BENCH_APT := rsync rclone lftp

APP_BIN := $(CARGO_TARGET_DIR)/release/skiff-app
CLI_BIN := $(CARGO_TARGET_DIR)/release/skiff

# apt-get install the listed packages that `dpkg -s` does not report as installed.
define apt_install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
endef

.PHONY: run test test-e2e bench deps deps-app deps-node deps-bench build app ui clippy fmt fuzz

deps:
	$(call apt_install_missing,$(TEST_APT))
	@command -v cargo >/dev/null || { echo "cargo is missing: install Rust (rustup) first"; exit 1; }

deps-app: deps
	$(call apt_install_missing,$(APP_APT))
	@if ! command -v tauri-driver >/dev/null; then \
	  echo "installing tauri-driver (cargo install tauri-driver --locked)"; \
	  env -u CARGO_TARGET_DIR cargo install tauri-driver --locked; fi

# Node.js and npm for the Svelte UI (Debian's, when the machine has none).
deps-node:
	@missing=""; command -v node >/dev/null || missing="nodejs npm"; \
	if [ -z "$$missing" ] && ! command -v npm >/dev/null; then missing="npm"; fi; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' || \
	  { echo "Node.js $$(node -v) is too old for the UI build (Vite needs >= 20.19): install a newer nodejs"; exit 1; }

# The Svelte UI -> ui/dist (embedded into the app binary at compile time, so this runs first).
ui: deps-node
	@cd ui; \
	if [ ! -d node_modules ] || [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  echo "npm ci (ui/)"; npm ci --no-audit --no-fund; fi
	cd ui && npm run build

app: deps-app ui
	cargo build --release --locked -p skiff-app

build: deps
	cargo build --release --locked -p skiff-cli

# Starts the window. Without a $$DISPLAY it goes onto a virtual display (Xvfb :99).
run: deps deps-app ui app
	tests/gui-session.sh run $(APP_BIN)

# Everything: the Rust workspace (unit, codec vectors, real-sshd end-to-end, keyring, and the
# GUI end-to-end test that drives the real window through tauri-driver), after the UI tests.
# The Rust tests run on a private D-Bus session with an unlocked gnome-keyring (a real Secret
# Service) and on a display (a private Xvfb when $$DISPLAY is unset).
test: deps deps-app ui
	cd ui && npm test && npm run check
	cargo build --release --locked -p skiff-cli -p skiff-app
	SKIFF_BIN=$(CLI_BIN) SKIFF_APP=$(APP_BIN) \
	  tests/gui-session.sh test cargo test --locked --workspace --release -- --test-threads=2
	$(FUZZ_RUN) $(FUZZ_SHORT_SECONDS)

# Only the GUI end-to-end test (builds what it needs first).
test-e2e: deps deps-app ui
	cargo build --release --locked -p skiff-app
	SKIFF_APP=$(APP_BIN) \
	  tests/gui-session.sh test cargo test --locked --release -p skiff-tests --test gui_e2e -- --nocapture

# Coverage-guided fuzzing (libFuzzer on the stable toolchain) of the SFTP decoder, the
# encode/decode round trip and the request table's reply routing; prints executions per
# target. FUZZ_SECONDS is per target (default: 10 minutes for the three), e.g.
# `make fuzz FUZZ_SECONDS=3600 FUZZ_TARGETS=decode`; `make test` runs each for
# FUZZ_SHORT_SECONDS. A crash fails the run and leaves its input in crates/skiff-sftp/fuzz/artifacts/.
FUZZ_SECONDS ?= 200
FUZZ_SHORT_SECONDS ?= 15
FUZZ_TARGETS ?= decode roundtrip route
FUZZ_RUN := crates/skiff-sftp/fuzz/run.sh

fuzz: deps
	$(call apt_install_missing,g++)
	$(FUZZ_RUN) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: deps-bench
	cargo build --release --locked -p skiff-cli -p skiff-tests
	$(CARGO_TARGET_DIR)/release/skiff-bench --skiff $(CARGO_TARGET_DIR)/release/skiff $(BENCH_ARGS)

deps-bench: deps
	$(call apt_install_missing,$(BENCH_APT))

clippy:
	cargo clippy --workspace --all-targets

fmt:
	cargo fmt --all
