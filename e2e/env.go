// Package e2e is the ClusterMesh conformance suite: Ginkgo specs that ask,
// from a client in every cluster, which cluster answered a global service,
// and judge it with the verdict package. Specs are functions taking an input
// struct (this package's non-test files); the *_test.go files wrap them in
// Describe containers with labels.
package e2e

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// MissBound is the false-failure bound every "every expected cluster
// answered" verdict is sized for.
const MissBound = 1e-6

// MinRequests is the smallest batch per source and check; RequestsFor(1e-6,
// 3) is 37, so 40 covers every check with up to three expected clusters.
const MinRequests = 40

// Env is everything a spec needs: the run's configuration, a handle and a
// probe client per cluster, and the agents' view.
type Env struct {
	Config   config.Config
	Handles  []cluster.Handle
	Clusters []workload.Cluster
	// Clients are the client pods, by cluster name.
	Clients map[string]probe.Client
	Known   probe.Known
	Agents  *Agents
	// Requests is the batch size of one check from one source.
	Requests int
	// Invert flips one expectation (E2E_INVERT=1) to show that a spec fails
	// with a readable matrix.
	Invert bool
	Log    io.Writer
	Book   *ReportBook
}

// NewEnv builds the environment from handles of clusters whose workload is
// deployed: it finds the client pods and the service IPs.
func NewEnv(ctx context.Context, cfg config.Config, handles []cluster.Handle, log io.Writer) (*Env, error) {
	e := &Env{
		Config:  cfg,
		Handles: handles,
		Clients: map[string]probe.Client{},
		Known:   probe.KnownClusters(cfg.Clusters),
		Log:     log,
		Book:    &ReportBook{},
		Agents:  &Agents{Clusters: cfg.Clusters, Handles: map[string]cluster.Handle{}, Exec: map[string]kube.Execer{}},
	}
	e.Requests = max(MinRequests, verdict.RequestsFor(MissBound, len(handles)))
	for _, h := range handles {
		c := workload.Cluster{Name: h.Name, ID: h.ID, Client: h.Client}
		e.Clusters = append(e.Clusters, c)
		ex := kube.NewExecer(h.REST)
		e.Agents.Handles[h.Name] = h
		e.Agents.Exec[h.Name] = ex
		pod, err := workload.ClientPod(ctx, c, cfg.Namespace)
		if err != nil {
			return nil, err
		}
		e.Clients[h.Name] = probe.Client{Cluster: h.Name, Namespace: cfg.Namespace, Pod: pod, Exec: ex}
	}
	return e, nil
}

// Names are the clusters in order.
func (e *Env) Names() []string {
	n := make([]string, len(e.Clusters))
	for i, c := range e.Clusters {
		n[i] = c.Name
	}
	return n
}

// Others are every cluster but name.
func (e *Env) Others(name string) []string {
	return slices.DeleteFunc(e.Names(), func(n string) bool { return n == name })
}

// Cluster returns the workload view of a cluster.
func (e *Env) Cluster(name string) workload.Cluster {
	for _, c := range e.Clusters {
		if c.Name == name {
			return c
		}
	}
	panic("e2e: unknown cluster " + name)
}

// Wait is a workload wait with timeout d and the table's polling period.
func (e *Env) Wait(d time.Duration) workload.Wait {
	return workload.Wait{Timeout: d, Poll: e.Config.Intervals.Poll}
}

// Intervals is the run's interval table.
func (e *Env) Intervals() config.Intervals { return e.Config.Intervals }

// Batch runs one batch from source to the helloworld service.
func (e *Env) Batch(ctx context.Context, source string, n int) (probe.Batch, error) {
	return probe.Run(ctx, probe.RunInput{
		Client: e.Clients[source], URL: probe.ServiceURL(workload.Service, e.Config.Namespace),
		Requests: n, Timeout: e.Config.Intervals.Request, Known: e.Known,
	})
}

// Logf writes a line prefixed with the cluster, like the fixtures do.
func (e *Env) Logf(cluster, format string, args ...any) {
	if e.Log == nil {
		return
	}
	prefix := ""
	if cluster != "" {
		prefix = "[" + cluster + "] "
	}
	fmt.Fprintf(e.Log, prefix+format+"\n", args...)
}
