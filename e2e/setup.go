package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/artifacts"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

// Mesh is the suite's bring-up: the same plan-then-apply path as make
// kind-up (fixtures/bringup), with the teardown of what the plan creates.
type Mesh struct {
	// Config is the resolved configuration (config.Resolve, once).
	Config config.Config
	Log    io.Writer
	// Provider is the cluster provider (kind or existing contexts).
	Provider cluster.Provider
	// Handles are set once Up has created or found the clusters.
	Handles []cluster.Handle
	b       *bringup.Bringup
}

// Plan computes the plan (read only) and prints it.
func (m *Mesh) Plan(ctx context.Context) (*bringup.Plan, error) {
	b, err := bringup.New(m.Config, bringup.Options{Log: m.Log, Workload: true})
	if err != nil {
		return nil, err
	}
	m.b, m.Provider = b, b.Provider
	p, err := b.Plan(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprint(m.Log, p.String())
	return p, p.Err()
}

// Up carries the plan out: clusters created or reused, Cilium installed,
// kept, upgraded or used as it is, the workload applied while the agents
// start, the mesh and every service's backends gated (the same Apply as
// make kind-up).
func (m *Mesh) Up(ctx context.Context, p *bringup.Plan) ([]cluster.Handle, error) {
	if m.b == nil {
		return nil, errors.New("mesh: Plan first")
	}
	bm, err := m.b.Apply(ctx, p)
	if bm != nil {
		m.Handles = bm.Handles
		if bm.Timings != nil {
			fmt.Fprintf(m.Log, "bring-up phase timings:\n%s", bm.Timings.Table())
		}
	}
	return m.Handles, err
}

// Down undoes what the plan created (clusters the run made; Cilium the run
// installed on existing clusters); reused and foreign things stay.
func (m *Mesh) Down(ctx context.Context) error {
	if m.b == nil {
		return nil
	}
	return m.b.Teardown(ctx)
}

// Collect writes the failure artifacts of every cluster under ARTIFACTS
// (fixtures/artifacts).
func (m *Mesh) Collect(ctx context.Context, hs []cluster.Handle) error {
	return artifacts.Collect(ctx, artifacts.CollectInput{Handles: hs, Provider: m.Provider, Dir: m.Config.Artifacts, Log: m.Log})
}
