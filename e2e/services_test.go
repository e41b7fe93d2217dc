package e2e

import (
	"slices"
	"testing"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// The gate covers every global service any spec probes, with the run's
// namespace. The MCS-API spec's service is not global: it waits for its own
// ServiceImports instead.
func TestServiceGatesListEveryService(t *testing.T) {
	cfg := config.Default()
	cfg.Namespace = "meshtest"
	gates := ServiceGates(cfg, nil, nil)
	var names []string
	for _, g := range gates {
		if g.Namespace != "meshtest" || g.WantPerCluster != 1 {
			t.Errorf("gate %s: namespace %q, want per cluster %d", g.Name, g.Namespace, g.WantPerCluster)
		}
		names = append(names, g.Name)
	}
	for _, s := range workload.Suite().Services {
		if s.MCS {
			if slices.Contains(names, s.Name) {
				t.Errorf("service %s (spec %s) is not global, but gated as if it were", s.Name, s.Owner)
			}
			continue
		}
		if !slices.Contains(names, s.Name) {
			t.Errorf("service %s (spec %s) is not gated; gated: %v", s.Name, s.Owner, names)
		}
	}
	for _, spec := range []string{workload.SpecGlobal, workload.SpecShared, workload.SpecCombined, workload.SpecRuntime,
		workload.SpecAffinityLocal, workload.SpecAffinityRemote, workload.SpecAffinityNone, workload.SpecPolicy, workload.SpecHubble, workload.SpecUpgrade,
		workload.SpecSeed, workload.SpecMultiPort, workload.SpecRecreate} {
		if !slices.Contains(names, workload.ServiceFor(spec).Name) {
			t.Errorf("spec %s probes %s, which is not gated", spec, workload.ServiceFor(spec).Name)
		}
	}
}
