package e2e

import (
	"context"
	"io"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// ServiceGates are the readiness gate's inputs: one per service a run will
// use (workload.ServiceNames: the shared helloworld and every spec's own),
// each wanting one ready backend per cluster in every agent. Specs start
// probing their own service at once, in parallel, so every one of them is
// gated, not only helloworld.
func ServiceGates(cfg config.Config, hs []cluster.Handle, log io.Writer) []cilium.ServiceBackendsInput {
	in := cilium.GateInput{Handles: hs, Intervals: cfg.Intervals, Log: log}
	var out []cilium.ServiceBackendsInput
	for _, name := range workload.ServiceNames() {
		out = append(out, cilium.ServiceBackendsInput{GateInput: in, Namespace: cfg.Namespace, Name: name, WantPerCluster: 1})
	}
	return out
}

// GateServices waits for every agent to have every service's backends from
// every cluster. One service after the other: each gate execs into every
// agent, and once the first is synced the others usually pass at their
// first poll; running them at once would only crowd two cores.
func GateServices(ctx context.Context, cfg config.Config, hs []cluster.Handle, log io.Writer) error {
	for _, in := range ServiceGates(cfg, hs, log) {
		if err := cilium.GateServiceBackends(ctx, in); err != nil {
			return err
		}
	}
	return nil
}
