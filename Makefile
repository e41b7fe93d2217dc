# ClusterMesh conformance suite. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO                  ?= go
ARTIFACTS           ?= $(CURDIR)/_artifacts
CILIUM_VERSION      ?= 1.20.2
KUBERNETES_VERSION  ?= v1.34.4
IMAGE_SOURCE        ?= auto
GINKGO_LABEL_FILTER ?=
GINKGO_FOCUS        ?=
GINKGO_TIMEOUT      ?= 60m
GINKGO_ARGS         ?=
# GINKGO_PROCS parallel Ginkgo processes run the specs (each owns its
# service, so they do not interfere). Five on a two-core machine: a spec
# spends most of its time waiting (a change propagating through the mesh,
# pods terminating, a dropped request's timeout), so five processes overlap
# the waits; measured with make bench-suite on 2026-12-04, 17 specs: 3
# processes 44 % of the serial spec phase, 4 43 %, 5 31 % (52 s); that
# evening, with the affinity-"none" hold added, 5 gave 36 % (58 s). Upgrade
# mode needs 1 (its Serial spec must run first).
GINKGO_PROCS        ?= 5
# E2E_ARGS are -e2e.* flags for the suite and the mesh command, e.g.
# E2E_ARGS='-e2e.namespace=other -e2e.intervals=mesh-ready=10m'. Ginkgo gets
# them after the package path and "--" (flags before the path are Ginkgo's own).
E2E_ARGS            ?=
FUZZTIME            ?= 30s
# DRY_RUN=1 makes lab-clean print what it would remove, and remove nothing.
DRY_RUN             ?=
# actionlint is run from its Go module at this version (no binary to install).
ACTIONLINT_VERSION  ?= v1.7.12
export ARTIFACTS CILIUM_VERSION KUBERNETES_VERSION IMAGE_SOURCE

BIN    := $(CURDIR)/_output/bin
MESH   := $(BIN)/mesh
# VALIDATE is `mesh validate` linked with the configuration only: rebuilt in
# about a second after a change, so a bad value is reported at once.
VALIDATE := $(BIN)/validate
GINKGO := $(BIN)/ginkgo
BENCHSUITE := $(BIN)/benchsuite
MATRIX := $(BIN)/matrix

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Tests that need no cluster

.PHONY: test
test: fmt-check mod-check lint-workflows vet unit ## Hermetic tests: gofmt, go.mod tidy, workflow lint, go vet, unit tests with fuzz seed corpora.

.PHONY: unit
unit: ## Unit tests (and fuzz seed corpora) of every package.
	$(GO) test -short -count=1 ./...

.PHONY: vet
vet: ## go vet every package, the e2e suite included.
	$(GO) vet ./...

.PHONY: fmt-check
fmt-check: ## Fail when a Go file is not gofmt-ed.
	@files=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt needed:"; echo "$$files"; exit 1; fi

# go.mod asks for Go 1.26, and every Go from 1.23 has `go mod tidy -diff`, so
# no older fallback is needed: an older go refuses this module anyway.
.PHONY: mod-check
mod-check: ## Fail when `go mod tidy` would change go.mod or go.sum (it prints the diff).
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }

.PHONY: lint-workflows
lint-workflows: ## Lint .github/workflows with actionlint ACTIONLINT_VERSION (shellcheck too, when it is installed).
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

.PHONY: fuzz
fuzz: ## Fuzz the curl parser and the batch framing for FUZZTIME each.
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./fixtures/probe
	$(GO) test -run '^$$' -fuzz '^FuzzBatch$$' -fuzztime $(FUZZTIME) ./fixtures/probe

.PHONY: validate
validate: $(VALIDATE) ## Check the configuration (flags, env, E2E_ARGS) before anything starts; on error write ARTIFACTS/junit.xml.
	@$(VALIDATE) $(E2E_ARGS)

##@ The lab: every image built here, no registry needed

.PHONY: docker-up
docker-up: ## Start a Docker engine if none answers (with the CAP_SYS_RESOURCE runtime wrapper when the host needs it).
	scripts/docker-up.sh

.PHONY: images
images: validate $(MESH) ## Build every image the suite needs (cached by content); nothing to build when the source is upstream.
	@src=$$($(MESH) image-source $(E2E_ARGS)); \
	if [ "$$src" = upstream ]; then echo "images: upstream images are pulled by kind and the nodes; nothing to build"; exit 0; fi; \
	start=$$(date +%s); \
	scripts/docker-up.sh; \
	scripts/node-image.sh; \
	scripts/cilium-images.sh; \
	scripts/app-images.sh; \
	scripts/coredns-image.sh || echo "images: no MCS-API CoreDNS (see above): runs leave CoreDNS as kubeadm made it and the clusterset.local check skips, saying why"; \
	scripts/cilium-preload.sh >/dev/null; \
	docker image prune --force --filter label=clustermesh-e2e.hash >/dev/null; \
	echo "images: done in $$(( $$(date +%s) - start ))s"; \
	docker image ls --filter label=clustermesh-e2e.hash --format '  {{.Repository}}:{{.Tag}}\t{{.Size}}'

.PHONY: node-image
node-image: validate ## Build only the kind node image localhost/clustermesh-e2e/node:<KUBERNETES_VERSION> (cached).
	scripts/docker-up.sh
	scripts/node-image.sh

.PHONY: cilium-images
cilium-images: validate ## Build only Cilium's images for CILIUM_VERSION (cached by content).
	scripts/docker-up.sh
	scripts/cilium-images.sh

.PHONY: app-images
app-images: validate ## Build the helloworld and client images, and prove the client reaps orphaned processes.
	scripts/docker-up.sh
	VERIFY_REAPING=1 scripts/app-images.sh

.PHONY: coredns-image
coredns-image: validate ## Build the CoreDNS that MCS-API's clusterset.local needs (v1.12.2+; kubeadm v1.34 deploys v1.12.1).
	scripts/docker-up.sh
	scripts/coredns-image.sh

.PHONY: lab-load-bench
lab-load-bench: ## Time `kind load` against the node image with the images preloaded, for one cluster.
	scripts/cilium-load-bench.sh

.PHONY: node-check
node-check: ## Prove the node image alone: a throwaway cluster, API up, NotReady only for the missing CNI.
	scripts/node-check.sh

.PHONY: lab-smoke
lab-smoke: validate $(MESH) ## One kind cluster from the lab's images: node Ready, agent healthy, DNS, pod->pod, pod->Service.
	$(MESH) smoke $(E2E_ARGS)

.PHONY: lab-clean
lab-clean: $(MESH) ## Give the disk back: only the lab's own clusters, labelled images and volumes, build outputs, marked cache (DRY_RUN=1 prints it).
	MESH=$(MESH) $(if $(filter 1 true yes,$(DRY_RUN)),LAB_CLEAN_DRY_RUN=1) scripts/lab-clean.sh

##@ Clusters

.PHONY: plan
plan: validate $(MESH) ## Print what kind-up / e2e would create, reuse, install, keep, upgrade or refuse, per cluster. Changes nothing.
	$(MESH) plan $(E2E_ARGS)

.PHONY: kind-up
kind-up: validate $(MESH) ## Print the plan, then carry it out: clusters with Cilium ClusterMesh, gated on the mesh and the global service's backends.
	$(MESH) up $(E2E_ARGS)

.PHONY: kind-down
kind-down: $(MESH) ## Delete what the suite made: its marked kind clusters, their kubeconfigs, the kind network if they made it.
	$(MESH) down $(E2E_ARGS)

.PHONY: collect
collect: $(MESH) ## Write artifacts (status, service lists, logs) of the running clusters to ARTIFACTS.
	$(MESH) collect $(E2E_ARGS)

##@ The suite

.PHONY: e2e
e2e: validate images e2e-run ## Everything from nothing: images, bring-up, specs, teardown (USE_EXISTING_CLUSTERS=true reuses).

.PHONY: e2e-run
e2e-run: validate $(GINKGO) ## Only the specs (bring-up and teardown included): no image build.
	mkdir -p "$(ARTIFACTS)"
	$(GINKGO) run --timeout=$(GINKGO_TIMEOUT) --fail-on-pending --fail-on-empty --trace -v \
	  --procs=$(GINKGO_PROCS) \
	  --poll-progress-after=5m --poll-progress-interval=1m \
	  --junit-report=junit.xml --json-report=report.json --output-dir="$(ARTIFACTS)" \
	  $(if $(GINKGO_LABEL_FILTER),--label-filter='$(GINKGO_LABEL_FILTER)') \
	  $(if $(GINKGO_FOCUS),--focus='$(GINKGO_FOCUS)') \
	  $(GINKGO_ARGS) ./e2e $(if $(E2E_ARGS),-- $(E2E_ARGS))

.PHONY: e2e-upgrade
e2e-upgrade: images ## Upgrade mode: Cilium UPGRADE_FROM (default 1.19.7) first, upgraded to CILIUM_VERSION one cluster at a time under probes, then every spec.
	@from=$${UPGRADE_FROM:-1.19.7}; \
	if [ "$$($(MESH) image-source $(E2E_ARGS))" != upstream ]; then \
	  CILIUM_VERSION=$$from scripts/cilium-images.sh && CILIUM_VERSION=$$from scripts/cilium-preload.sh >/dev/null; \
	fi; \
	UPGRADE_FROM=$$from $(MAKE) --no-print-directory e2e-run GINKGO_PROCS=1

# The conformance matrix: CILIUM_VERSIONS (spaces or commas) run one after the
# other, each on new clusters; empty: CILIUM_VERSION and the newest patch
# release of each of the two minor releases before it that the module proxy
# serves (cmd/matrix versions says what it found). The list is checked with
# the whole configuration, per version, before anything is built.
CILIUM_VERSIONS ?=
export CILIUM_VERSIONS
.PHONY: e2e-matrix
e2e-matrix: validate matrix-versions $(MESH) $(GINKGO) ## Every spec per Cilium version (CILIUM_VERSIONS) on new clusters: ARTIFACTS/matrix/matrix.md and .json, spec x version.
	@MESH=$(MESH) MATRIX=$(MATRIX) MAKE="$(MAKE)" scripts/matrix.sh $(E2E_ARGS)

# matrix-versions writes the checked (or resolved) list for e2e-matrix.
.PHONY: matrix-versions
matrix-versions: $(MATRIX)
	@mkdir -p "$(ARTIFACTS)/matrix"
	@$(MATRIX) versions -go '$(GO)' $(E2E_ARGS) >"$(ARTIFACTS)/matrix/versions.txt"

.PHONY: e2e-selfcheck
e2e-selfcheck: $(GINKGO) ## Prove a wrong expectation fails with its matrix (E2E_INVERT=1 on running clusters; make kind-up first).
	@mkdir -p "$(ARTIFACTS)/selfcheck"
	@echo "self-check: running the global spec with its expectation inverted (log: $(ARTIFACTS)/selfcheck/run.log)"
	@if E2E_INVERT=1 USE_EXISTING_CLUSTERS=true SKIP_CLEANUP=true $(MAKE) --no-print-directory e2e-run GINKGO_PROCS=1 \
	    GINKGO_LABEL_FILTER='global && !shared && !affinity && !runtime' ARTIFACTS="$(ARTIFACTS)/selfcheck" \
	    >"$(ARTIFACTS)/selfcheck/run.log" 2>&1; then \
	  echo "self-check FAILED: the inverted spec passed, so this verdict cannot fail"; exit 1; fi
	@grep -q 'INVERTED (E2E_INVERT=1, must fail)' "$(ARTIFACTS)/selfcheck/run.log" || { echo "self-check FAILED: the suite failed, but not on the inverted expectation"; exit 1; }
	@grep -q 'from \\ answered by' "$(ARTIFACTS)/selfcheck/run.log" || { echo "self-check FAILED: no matrix in the failure"; exit 1; }
	@ev=$$(dirname "$$(ls -d "$(ARTIFACTS)"/selfcheck/*/responses-*.txt 2>/dev/null | head -1)"); \
	for f in responses-*.txt cluster-1/agent-status.txt cluster-1/clustermesh-status.txt cluster-1/service.txt \
	  cluster-1/endpointslices.yaml cluster-1/events.txt cluster-1/helm-values.yaml cluster-1/logs/*helloworld*.log \
	  cluster-1/logs/*client*.log cluster-1/logs/cilium-*_cilium-agent.log; do \
	  compgen -G "$$ev/$$f" >/dev/null || { echo "self-check FAILED: no evidence file $$f under $$ev"; exit 1; }; done; \
	echo "self-check: the failure's evidence is in $$ev"
	@echo "self-check passed: the inverted spec failed, and its failure prints the matrix:"
	@grep -m1 -A12 'not reached from' "$(ARTIFACTS)/selfcheck/run.log"

.PHONY: e2e-existing
e2e-existing: validate $(MESH) ## Prove the existing-cluster path on three kind clusters a person made (bystanders unchanged, nothing of the suite's left). PROFILE=kind-lb by default.
	scripts/existing-proof.sh

.PHONY: e2e-interrupt
e2e-interrupt: validate $(MESH) ## Prove a real SIGINT during make kind-up's Cilium install leaves no container, kubeconfig or process.
	scripts/interrupt-proof.sh

# The bring-up (make kind-up's: it reuses the suite's clusters when they are
# up, and leaves them up), then the same specs twice on that mesh: the serial
# run first, then the parallel one (each spec prepares its own objects, so
# the second run needs nothing restored). The spec phase is read from each
# run's Ginkgo JSON report; the bring-up's phase table follows it.
BENCH_SUITE_FILTER ?= !upgrade && !fault
.PHONY: bench-suite
bench-suite: validate $(MESH) $(GINKGO) $(BENCHSUITE) ## Bring-up (kind-up's), then the spec phase serial (--procs=1) vs parallel (GINKGO_PROCS), their ratio and the bring-up's phase table.
	@mkdir -p "$(ARTIFACTS)/bench-suite"
	@echo "bench-suite: bring-up, reusing the suite's clusters when they are up (log: $(ARTIFACTS)/bench-suite/bring-up.log)"
	@rm -f "$(ARTIFACTS)/bring-up-phases.txt"
	@$(MESH) up $(E2E_ARGS) >"$(ARTIFACTS)/bench-suite/bring-up.log" 2>&1 || { echo "bench-suite: the bring-up failed; its log ends:"; tail -20 "$(ARTIFACTS)/bench-suite/bring-up.log"; exit 1; }
	@for mode in serial parallel; do \
	  procs=1; if [ "$$mode" = parallel ]; then procs=$(GINKGO_PROCS); fi; \
	  echo "bench-suite: $$mode run, $$procs process(es) (log: $(ARTIFACTS)/bench-suite/$$mode/run.log)"; \
	  mkdir -p "$(ARTIFACTS)/bench-suite/$$mode"; \
	  USE_EXISTING_CLUSTERS=true SKIP_CLEANUP=true $(MAKE) --no-print-directory e2e-run GINKGO_PROCS=$$procs \
	    GINKGO_LABEL_FILTER='$(BENCH_SUITE_FILTER)' ARTIFACTS="$(ARTIFACTS)/bench-suite/$$mode" \
	    >"$(ARTIFACTS)/bench-suite/$$mode/run.log" 2>&1 || echo "bench-suite: the $$mode run failed (its times are still shown)"; \
	done
	@{ $(BENCHSUITE) -procs $(GINKGO_PROCS) "$(ARTIFACTS)/bench-suite/serial/report.json" "$(ARTIFACTS)/bench-suite/parallel/report.json"; \
	  echo; cat "$(ARTIFACTS)/bring-up-phases.txt"; echo "the clusters are still up: make kind-down removes them"; } \
	  | tee "$(ARTIFACTS)/bench-suite/summary.txt"

.PHONY: bench
bench: ## Probe cost on running clusters: N requests in one exec vs one exec per request; a 40-request batch; a checked state, 3 sources x 40 at once (needs make kind-up).
	$(GO) test -run '^$$' -bench . -benchtime 3x ./fixtures/probe

# Binaries are rebuilt when a Go file changed; go's build cache makes that cheap.
GO_FILES := $(shell git ls-files '*.go' 2>/dev/null) go.mod go.sum
$(MESH): $(GO_FILES)
	$(GO) build -o $@ ./cmd/mesh
$(GINKGO): go.mod go.sum
	$(GO) build -o $@ github.com/onsi/ginkgo/v2/ginkgo
$(VALIDATE): $(GO_FILES)
	$(GO) build -o $@ ./cmd/validate
$(BENCHSUITE): $(GO_FILES)
	$(GO) build -o $@ ./cmd/benchsuite
$(MATRIX): $(GO_FILES)
	$(GO) build -o $@ ./cmd/matrix
