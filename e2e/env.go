// Package e2e is the ClusterMesh conformance suite: Ginkgo specs that ask,
// from a client in every cluster, which cluster answered a global service.
// The checks themselves are fixtures/check's (states awaited and held, the
// agents' views) and fixtures/verdict's (reports); this package holds the
// spec bodies, the suite's setup and the Gomega wiring that turns their
// errors into failures. Specs are functions taking an input struct (this
// package's non-test files); the *_test.go files wrap them in Describe
// containers with labels.
package e2e

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"

	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
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
	// Clients are the client pods, by cluster name; Prober probes Service
	// from them.
	Clients map[string]probe.Client
	Prober  check.Prober
	// Service is the global service the spec owns (ForService); NewEnv's
	// is the shared helloworld service the upgrade probes.
	Service workload.GlobalService
	Known   probe.Known
	Agents  *check.Agents
	// Requests is the batch size of one check from one source.
	Requests int
	// Invert flips one expectation (E2E_INVERT=1) to show that a spec fails
	// with a readable matrix.
	Invert bool
	Log    io.Writer
	Book   *verdict.Book
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
		Book:    &verdict.Book{},
		Agents:  &check.Agents{Clusters: cfg.Clusters, Client: map[string]kubernetes.Interface{}, Exec: map[string]kube.Execer{}},
	}
	e.Requests = max(MinRequests, verdict.RequestsFor(MissBound, len(handles)))
	for _, h := range handles {
		c := h // workload.Cluster is the handle: name, clients, REST config, ranges
		e.Clusters = append(e.Clusters, c)
		ex := kube.NewExecer(h.REST)
		e.Agents.Client[h.Name] = h.Client
		e.Agents.Exec[h.Name] = ex
		pod, err := workload.ClientPod(ctx, c, cfg.Namespace)
		if err != nil {
			return nil, err
		}
		e.Clients[h.Name] = probe.Client{Cluster: h.Name, Namespace: cfg.Namespace, Pod: pod, Exec: ex}
	}
	return e.ForService(workload.ServiceFor(workload.SpecUpgrade)), nil
}

// ForService is the environment of a spec that owns svc: the same clusters,
// clients and book, probing svc. Specs in one process run one at a time,
// so they share the book.
func (e *Env) ForService(svc workload.GlobalService) *Env {
	c := *e
	c.Service = svc
	c.Prober = check.Service{Clients: e.Clients, URL: probe.ServiceURL(svc.Name, e.Config.Namespace),
		Timeout: e.Config.Intervals.Request, Known: e.Known}
	return &c
}

// Prepare puts the spec's own service (and backend, when it owns one) into
// the state the spec starts from, in every cluster (workload.Prepare): a
// run interrupted mid-spec left them changed, and nothing restores them
// when a spec ends. When something had to change, it waits until every
// cluster answers every source again, so the spec's own change is measured
// from a settled datapath.
func (e *Env) Prepare(ctx context.Context) {
	changed, err := workload.Prepare(ctx, workload.PrepareInput{Clusters: e.Clusters, Namespace: e.Config.Namespace,
		Service: e.Service, Params: workload.ParamsFor(e.Config), Wait: e.Wait(e.Intervals().WorkloadReady)})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	if changed {
		e.AwaitState(ctx, e.Everyone(e.Service.Name+" back in its starting state"), time.Time{}, e.Intervals().BackendWithdraw)
	}
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
func (e *Env) Others(name string) []string { return check.Others(e.Names(), name) }

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

// The states every spec names, over the run's clusters.
func (e *Env) Everyone(name string) check.State   { return check.Everyone(name, e.Names()) }
func (e *Env) OnlyLocal(name string) check.State  { return check.OnlyLocal(name, e.Names()) }
func (e *Env) OnlyRemote(name string) check.State { return check.OnlyRemote(name, e.Names()) }

// AwaitState is check.Await from every source of st, in the run's book;
// since is the moment of the change (zero: nothing to time). A state not
// reached within timeout fails the spec with the sources' last matrices.
func (e *Env) AwaitState(ctx context.Context, st check.State, since time.Time, timeout time.Duration) []check.Switch {
	sw, err := e.Await(ctx, st, since, timeout)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return sw
}

// Await is AwaitState returning its error instead of failing the spec,
// for a spec that must go on (a fault spec still heals and checks the mesh
// after a failed verdict).
func (e *Env) Await(ctx context.Context, st check.State, since time.Time, timeout time.Duration) ([]check.Switch, error) {
	return check.Await(ctx, e.awaitInput(st, since, timeout))
}

// awaitInput is check.Await's input for st in the run's book.
func (e *Env) awaitInput(st check.State, since time.Time, timeout time.Duration) check.AwaitInput {
	return check.AwaitInput{Prober: e.Prober, Clusters: e.Names(), State: st, Requests: e.Requests,
		Since: since, Timeout: timeout, Poll: e.Intervals().ProbePause, Book: e.Book, Log: e.Log}
}

// HoldState is check.Hold: st must hold for d, with at least minRequests
// requests per source.
func (e *Env) HoldState(ctx context.Context, st check.State, d time.Duration, minRequests int) {
	ExpectWithOffset(1, check.Hold(ctx, check.HoldInput{Prober: e.Prober, Clusters: e.Names(), State: st, Requests: e.Requests,
		For: d, Poll: e.Intervals().Poll, MinRequests: minRequests, Book: e.Book})).To(Succeed())
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
