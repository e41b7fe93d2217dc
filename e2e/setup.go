package e2e

import (
	"context"
	"fmt"
	"io"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/artifacts"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

// Mesh brings up (or finds) the meshed clusters and takes them down.
type Mesh struct {
	Config config.Config
	Log    io.Writer
	// Provider is the cluster provider (kind or existing contexts).
	Provider cluster.Provider
	// Created is true when Up made the clusters (then Down deletes them).
	Created bool
}

// Up returns handles to meshed clusters. With USE_EXISTING_CLUSTERS (or the
// existing provider) it takes the clusters as they are, meshed already (the
// gate checks that); otherwise fixtures/bringup creates, installs and meshes
// them, and Down will delete them.
func (m *Mesh) Up(ctx context.Context) ([]cluster.Handle, error) {
	if m.Config.UseExistingClusters || m.Config.Provider == config.ProviderExisting {
		p, err := cluster.New(m.Config, cluster.Options{Log: m.Log})
		if err != nil {
			return nil, err
		}
		m.Provider = p
		return p.Handles(ctx)
	}
	bm, err := bringup.Run(ctx, bringup.Input{Config: m.Config, Log: m.Log})
	if bm != nil {
		m.Provider = bm.Provider
		m.Config = bm.Config // image source resolved
		if bm.Timings != nil {
			fmt.Fprintf(m.Log, "bring-up phase timings:\n%s", bm.Timings.Table())
		}
	}
	if err != nil {
		return nil, err
	}
	m.Created = true
	return bm.Handles, nil
}

// Down deletes clusters Up created; it never deletes clusters it found.
func (m *Mesh) Down(ctx context.Context) error {
	if !m.Created {
		return nil
	}
	return bringup.DownWith(ctx, m.Config, cluster.Options{Log: m.Log})
}

// Gate waits until the datapath is ready for the specs: every agent sees
// every other cluster, and every agent has the backends of all clusters for
// every service a spec will probe (fixtures/cilium's gates, GateServices).
func Gate(ctx context.Context, cfg config.Config, hs []cluster.Handle, log io.Writer) error {
	in := cilium.GateInput{Handles: hs, Intervals: cfg.Intervals, Log: log}
	if err := cilium.GateMesh(ctx, in); err != nil {
		return err
	}
	return GateServices(ctx, cfg, hs, log)
}

// Collect writes the failure artifacts of every cluster under ARTIFACTS
// (fixtures/artifacts).
func (m *Mesh) Collect(ctx context.Context, hs []cluster.Handle) error {
	return artifacts.Collect(ctx, artifacts.CollectInput{Handles: hs, Provider: m.Provider, Dir: m.Config.Artifacts, Log: m.Log})
}
