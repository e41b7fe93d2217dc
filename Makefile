# ClusterMesh conformance suite. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO              ?= go
ARTIFACTS       ?= $(CURDIR)/_artifacts
CILIUM_VERSION  ?= 1.20.2
KUBERNETES_VERSION ?= v1.34.4
IMAGE_SOURCE    ?= auto
GINKGO_LABEL_FILTER ?=
GINKGO_FOCUS    ?=
GINKGO_TIMEOUT  ?= 60m
export ARTIFACTS CILIUM_VERSION KUBERNETES_VERSION IMAGE_SOURCE

PKGS := ./...

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Tests that need no cluster

.PHONY: test
test: fmt-check vet unit ## Hermetic tests: gofmt check, go vet, unit tests with fuzz seeds.

.PHONY: unit
unit: ## Unit tests (and fuzz seed corpora) of every package.
	$(GO) test -short -count=1 $(PKGS)

.PHONY: vet
vet: ## go vet every package, the e2e suite included.
	$(GO) vet $(PKGS)

.PHONY: fmt-check
fmt-check: ## Fail when a Go file is not gofmt-ed.
	@files=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi
