# iron_thumbs: `make run` serves thumbnails locally, `make test` tests everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO            ?= go
VERSITYGW_VERSION := v1.8.0
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TOOLS         := $(CURDIR)/.tools
VERSITYGW     := $(TOOLS)/versitygw-$(VERSITYGW_VERSION)/versitygw
ADDR          ?= 127.0.0.1:8080
# The local store of make run: RUN_DIR/images (seeded from testdata/) and
# RUN_DIR/thumbs.
RUN_DIR       ?= .run
# The version of func.yaml and the checkout's revision, stamped into the
# binary (`iron_thumbs version`); the Dockerfile passes REVISION in, as
# .git is not in its context.
VERSION       := $(shell awk '/^version:/{print $$2}' func.yaml)
REVISION      ?= $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
# The static build: the same command the Dockerfile runs.
BUILD_FLAGS   := -trimpath -ldflags='-s -w -buildid= -X main.version=$(VERSION) -X main.revision=$(REVISION)'
BIN           := bin/iron_thumbs

export VERSITYGW

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's|$$(ADDR)|$(ADDR)|; s|$$(RUN_DIR)|$(RUN_DIR)|g' | \
	  awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: run
run: build ## serve thumbnails on http://$(ADDR) from $(RUN_DIR)/images (seeded from testdata/), no S3 needed
	@mkdir -p $(RUN_DIR)/images $(RUN_DIR)/thumbs
	@for f in testdata/*.*; do [ -e "$(RUN_DIR)/images/$${f##*/}" ] || cp "$$f" $(RUN_DIR)/images/; done
	@# exec: the server is make's own child, so stopping make stops it.
	exec $(BIN) serve -addr $(ADDR) -local $(RUN_DIR)

.PHONY: build
build: ## the static binary bin/iron_thumbs, as the Dockerfile builds it
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(BIN) .

IMAGE := $(shell awk '/^name:/{n=$$2} /^version:/{v=$$2} END{print n ":" v}' func.yaml)

.PHONY: image
image: ## build the Docker image name:version of func.yaml (needs a Docker engine)
	docker build --build-arg REVISION=$(REVISION) -t $(IMAGE) .

.PHONY: deploy
deploy: ## create or update the IronFunctions app and route (API_URL, settings in deploy.env); DRY_RUN=1 previews
	$(GO) run ./cmd/deploy $(if $(DRY_RUN),-dry-run)

# apt-get as root, else through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: tools
tools: $(VERSITYGW) ab ## install the pinned Versity S3 Gateway into .tools/, and ApacheBench

.PHONY: ab
ab:
	@command -v ab >/dev/null && [ -x /usr/bin/time ] || { echo "installing ApacheBench and GNU time (Debian apache2-utils, time)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq apache2-utils time >/dev/null; }

$(VERSITYGW):
	@echo "installing versitygw $(VERSITYGW_VERSION) (takes a minute or two, once)"
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

.PHONY: test
test: tools build check ## check the code, then run every test, the end-to-end ones against a real S3 server
	IRON_THUMBS_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m ./...

.PHONY: check
check: ## gofmt, go vet, go mod tidy and staticcheck must find nothing
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	$(GO) run $(STATICCHECK) ./...

.PHONY: bench
# Results go under the git-ignored bench/work/ so a run never changes
# tracked files; RESULTS=bench/results publishes one on purpose.
bench: RESULTS ?= bench/work/results
bench: tools build ## ab scenarios cold and hot against versitygw, libvips, a naive function: bench/work/results/latest.{md,png} (RESULTS=bench/results publishes)
	@pkgs=""; [ -x /usr/bin/time ] || pkgs="$$pkgs time"; command -v vipsthumbnail >/dev/null || pkgs="$$pkgs libvips-tools"; \
	  command -v strace >/dev/null || pkgs="$$pkgs strace"; \
	  if [ -n "$$pkgs" ]; then echo "installing$$pkgs (Debian): peak memory, the libvips comparison, threads per call"; \
	    { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$pkgs >/dev/null; } || \
	    echo "could not install$$pkgs: the bench says what it skips"; fi
	$(GO) run ./bench -bin $(CURDIR)/$(BIN) -results $(RESULTS)

.PHONY: bench-go
bench-go: RESULTS ?= bench/work/results
bench-go: ## Go benchmarks of decode, resize and encode, -count 10 for benchstat: bench/work/results/go-bench.txt (RESULTS=bench/results publishes)
	@mkdir -p $(RESULTS)
	@# Lines starting with # are comments to benchstat: the machine and the build.
	@set -o pipefail; { echo "# machine: $$($(GO) run ./bench -machine)"; echo "# iron_thumbs $(VERSION) (revision $(REVISION))"; \
	  $(GO) test -run '^$$' -bench . -benchmem -count $(or $(COUNT),10) ./resize/; } | tee $(RESULTS)/go-bench.txt

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 2m): request parser, decode then resize, PNG decoder vs image/png, JPEG decoder vs image/jpeg, inflater vs compress/flate, PNG encoder round trip
	$(GO) test -run '^$$' -fuzz '^FuzzParseQuery$$' -fuzztime $(or $(FUZZTIME),2m) ./thumbs/
	$(GO) test -run '^$$' -fuzz '^FuzzThumbnail$$' -fuzztime $(or $(FUZZTIME),2m) ./resize/
	$(GO) test -run '^$$' -fuzz '^FuzzStreamDecoder$$' -fuzztime $(or $(FUZZTIME),2m) ./resize/
	$(GO) test -run '^$$' -fuzz '^FuzzJPEG$$' -fuzztime $(or $(FUZZTIME),2m) ./resize/
	$(GO) test -run '^$$' -fuzz '^FuzzInflate$$' -fuzztime $(or $(FUZZTIME),2m) ./resize/
	$(GO) test -run '^$$' -fuzz '^FuzzEncodePNG$$' -fuzztime $(or $(FUZZTIME),2m) ./resize/

.PHONY: clean
clean: ## remove built files and the thumbnails of make run (keeps $(RUN_DIR)/images and .tools)
	rm -rf bin $(RUN_DIR)/thumbs
