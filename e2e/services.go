package e2e

import (
	"io"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// ServiceGates are the readiness gate's inputs: one per service a run will
// use (workload.ServiceNames: the shared helloworld and every spec's own).
// Specs start probing their own service at once, in parallel, so every one
// of them is gated, not only helloworld.
func ServiceGates(cfg config.Config, hs []cluster.Handle, log io.Writer) []cilium.ServiceBackendsInput {
	return cilium.ServiceGates(cilium.GateInput{Handles: hs, Intervals: cfg.Intervals, Log: log}, cfg.Namespace, workload.ServiceNames())
}
