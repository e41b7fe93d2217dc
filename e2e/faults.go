package e2e

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/fault"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// The fault specs disturb the whole mesh (they are Serial): each measures
// the mesh before, during and after one fault, with a client in every
// cluster making new connections to the spec's global service all along
// (probe.Background) and every cluster's agents and KVStoreMesh read over
// and over, looks at least Intervals.Poll apart (check.Watch). Every figure is in the spec's reports and
// the log. The verdicts are Cilium's documented promises; where Cilium
// promises nothing, the figures are reported, not judged. A during-verdict
// that fails does not stop the spec: the after-part still runs (the mesh
// must heal either way), and the spec fails at its end.

// faultRun is one fault under way.
type faultRun struct {
	e       *Env
	bg      *probe.Background
	watch   *check.Watch
	stopped bool
	rec     probe.Record
	tl      check.Timeline
}

// views reads every cluster's view of the others and, withBackends, the
// agents' backends of the spec's service (a read more per look).
func views(e *Env, withBackends bool) check.MeshViews {
	v := check.MeshViews{Agents: e.Agents}
	if withBackends {
		v.Namespace, v.Service = e.Config.Namespace, e.Service.Name
	}
	return v
}

// faultBefore is the before-part: every cluster answers every source, and
// every agent and KVStoreMesh sees every other cluster ready. It returns
// that snapshot.
func faultBefore(ctx context.Context, e *Env, state string) check.Snapshot {
	iv := e.Intervals()
	By("before: probing the global service from every cluster")
	e.AwaitState(ctx, e.Everyone(state), time.Time{}, iv.BackendsSynced)
	By("before: every agent and KVStoreMesh sees every other cluster ready")
	var base check.Snapshot
	ExpectWithOffset(1, kube.Poll(ctx, iv.MeshReady, iv.Poll, func(ctx context.Context) error {
		base = views(e, false).Observe(ctx)
		return base.AllReady()
	})).To(Succeed())
	return base
}

// startFault starts the background probe of the spec's service from every
// cluster and the watch of every cluster's views (withBackends: and of the
// agents' backends); both end with the spec.
func startFault(ctx context.Context, e *Env, withBackends bool) *faultRun {
	iv := e.Intervals()
	clients := make([]probe.Client, 0, len(e.Names()))
	for _, n := range e.Names() {
		clients = append(clients, e.Clients[n])
	}
	By("starting a background probe of " + e.Service.Name + " from every cluster and a watch of every cluster's agents and KVStoreMesh")
	f := &faultRun{e: e}
	f.bg = probe.StartBackground(ctx, probe.BackgroundInput{Clients: clients, URL: probe.ServiceURL(e.Service.Name, e.Config.Namespace),
		Batch: UpgradeBatch, Timeout: iv.Request, Known: e.Known, Log: GinkgoWriter})
	f.watch = check.StartWatch(ctx, check.WatchInput{Observe: views(e, withBackends).Observe, Every: iv.Poll})
	DeferCleanup(f.stop)
	return f
}

func (f *faultRun) stop() {
	if f.stopped {
		return
	}
	f.stopped = true
	f.rec = f.bg.Stop()
	f.tl = f.watch.Stop()
}

// disturbance stops the probe and the watch and returns what they saw,
// measured from began.
func (f *faultRun) disturbance(began time.Time) check.Disturbance {
	f.stop()
	return check.Disturbance{Clusters: f.e.Names(), Record: f.rec, Timeline: f.tl, Began: began}
}

// faultAfter is the after-part: the readiness gates pass again and every
// cluster answers every source. The time from since (which is sinceWhat)
// to the gates passing goes into the state's report. It returns what
// failed; the probe runs even when a gate failed (its matrix shows what
// the clients got).
func faultAfter(ctx context.Context, e *Env, state string, since time.Time, sinceWhat string) error {
	iv := e.Intervals()
	gate := cilium.GateInput{Handles: e.Handles, Intervals: iv, Log: GinkgoWriter}
	By("after: every agent, operator and ClusterMesh API server healthy, every agent sees every other cluster, every agent has " + e.Service.Name + "'s backends of every cluster")
	err := cilium.GateAgents(ctx, gate)
	if err == nil {
		err = cilium.GateMesh(ctx, gate)
	}
	if err == nil {
		err = cilium.GateServiceBackends(ctx, cilium.ServiceBackendsInput{GateInput: gate,
			Namespace: e.Config.Namespace, Name: e.Service.Name, WantPerCluster: 1})
	}
	gates := time.Since(since)
	By("after: probing the global service from every cluster")
	_, aerr := e.Await(ctx, e.Everyone(state), time.Time{}, iv.BackendsSynced)
	if err == nil {
		e.Book.AddTiming(verdict.Timing{Name: "agents, mesh and backends gates passed, after " + sinceWhat, Duration: gates})
	}
	return errors.Join(wrap("after: the readiness gates", err), wrap("after: every cluster answers every source", aerr))
}

// skipUnlessOwned skips the spec when err refuses the fault for ownership.
func skipUnlessOwned(err error) {
	if fault.IsNotOwned(err) {
		Skip(err.Error())
	}
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
}

// remoteVia is where the mesh keeps its connection to other clusters'
// ClusterMesh API servers: KVStoreMesh when it runs (then each view of it
// exists in base), else the agents themselves.
func remoteVia(base check.Snapshot, observer, remote string) string {
	if _, ok := base.Views[check.ViewKey{Observer: observer, Via: check.ViaKVStoreMesh, Remote: remote}]; ok {
		return check.ViaKVStoreMesh
	}
	return check.ViaAgents
}

// keysOf are the views of remote from every other cluster, through via.
func keysOf(e *Env, via, remote string) []check.ViewKey {
	var keys []check.ViewKey
	for _, o := range e.Others(remote) {
		keys = append(keys, check.ViewKey{Observer: o, Via: via, Remote: remote})
	}
	return keys
}

// APIServerRestartSpec: the ClusterMesh API server of one cluster is
// restarted (its pod deleted; the Deployment of the suite's Cilium release
// makes a new one). Cilium keeps the last-known state of a remote cluster
// it lost the connection to (docs: global services, "Handling Unreachable
// Clusters"; clustermesh.cacheTTL defaults to never revoking it), and the
// datapath forwards pod to pod without the control plane, so the other
// clusters' clients keep reaching that cluster's backends, and failed
// requests are judged against Config.FaultOutageBudget (0 by default).
// Then every agent and KVStoreMesh reconnects: the time until all of them
// report every remote cluster ready, none still on the old etcd, is the
// figure.
func APIServerRestartSpec(input func() SpecInput) {
	It("keeps answering from the restarted cluster's backends while its ClusterMesh API server restarts, and every agent reconnects", func(ctx SpecContext) {
		e := input().Env
		target := e.Names()[1]
		skipUnlessOwned(fault.CheckRelease(ctx, cilium.HelmReleases{}, handleOf(e, target), "the clustermesh-apiserver pod"))
		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)
		restartAPIServer(ctx, e, target, "")
	})
}

// restartAPIServer is the ClusterMesh API server restart of target under
// probes, with its before-part (where says in which mesh, for the state's
// name); the upgrade spec restarts one in the mixed-version mesh with it.
// It returns the restart's stretch of time, from the delete to the end of
// the probing.
func restartAPIServer(ctx context.Context, e *Env, target, where string) check.Span {
	other := e.Others(target)[0]
	if where != "" {
		where = " " + where
	}
	base := faultBefore(ctx, e, "before "+target+"'s ClusterMesh API server restarts"+where)
	oldIDs := base.Views[check.ViewKey{Observer: other, Via: remoteVia(base, other, target), Remote: target}].IDs
	Expect(oldIDs).To(HaveLen(1), "the etcd of %s's ClusterMesh API server as %s sees it", target, other)
	return restartUnderProbes(ctx, e, base, podRestart{
		target: target, pod: "ClusterMesh API server", selector: cilium.APIServerSelector,
		ready:     func(s check.Snapshot) error { return s.Reconnected(oldIDs[0]) },
		readyFrom: func(rs fault.Restart) time.Time { return rs.Deleted },
		readyWhat: "every agent and KVStoreMesh ready, none on " + target + "'s old etcd " + oldIDs[0],
		judge: func(window probe.Record) error {
			return wrap(fmt.Sprintf("the other clusters' clients reached %s's backends", target), answeredFrom(e, window, e.Others(target), target))
		},
	})
}

// AgentRestartSpec: the Cilium agent of the node where one cluster's
// client runs is restarted (its pod deleted; the DaemonSet of the suite's
// release makes a new one). Cilium keeps its eBPF state in the BPF
// filesystem so that "the datapath can continue to operate while the agent
// is subsequently restarted or upgraded" (docs: system requirements,
// mounted eBPF filesystem). The figures: each source's failed requests
// (how many, the longest run, when the last one ended), the new agent
// Ready, and every agent and KVStoreMesh ready again; failed requests are
// judged against Config.FaultOutageBudget.
func AgentRestartSpec(input func() SpecInput) {
	It("recovers every client after one cluster's agent restarts, within the outage budget, and the mesh is ready again", func(ctx SpecContext) {
		e := input().Env
		target := e.Names()[1]
		skipUnlessOwned(fault.CheckRelease(ctx, cilium.HelmReleases{}, handleOf(e, target), "the cilium agent pod"))
		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)
		base := faultBefore(ctx, e, "before "+target+"'s agent restarts")
		node, err := clientNode(ctx, e, target)
		Expect(err).NotTo(HaveOccurred())
		restartUnderProbes(ctx, e, base, podRestart{
			target: target, pod: "agent", selector: cilium.AgentSelector, node: node,
			ready:     check.Snapshot.AllReady,
			readyFrom: func(rs fault.Restart) time.Time { return rs.Deleted.Add(rs.Replaced) },
			readyWhat: "every agent and KVStoreMesh ready again",
		})
	})
}

// podRestart is one of Cilium's pods restarted under probes: what differs
// between the two restart specs.
type podRestart struct {
	target, pod, selector string
	// node, when set, restarts the pod on that node.
	node string
	// ready is what every look must show for the mesh to be back, from
	// readyFrom on; readyWhat says it.
	ready     func(check.Snapshot) error
	readyFrom func(fault.Restart) time.Time
	readyWhat string
	// judge, when set, adds the spec's own verdict on the requests made
	// from the delete to the end of the probing.
	judge func(window probe.Record) error
}

// restartUnderProbes restarts the pod while every client probes and every
// view is watched, waits until the mesh is back (pr.ready), keeps probing
// Intervals.Consistently longer (a late failure, such as stale state
// dropped on reconnect, still counts), and reports: each source's failed
// requests against the outage budget, the pod's replacement, the mesh
// back, every view's changes. Then the after-part. It returns the
// restart's stretch of time: from the delete to the end of the probing.
func restartUnderProbes(ctx context.Context, e *Env, base check.Snapshot, pr podRestart) check.Span {
	iv := e.Intervals()
	target := pr.target
	f := startFault(ctx, e, false)
	where := ""
	if pr.node != "" {
		where = " on node " + pr.node + " (the client's)"
	}
	By(fmt.Sprintf("[%s] deleting the %s pod%s", target, pr.pod, where))
	rs, err := fault.RestartPod(ctx, fault.RestartInput{Cluster: handleOf(e, target), Releases: cilium.HelmReleases{}, Selector: pr.selector, Node: pr.node,
		Timeout: iv.CiliumReady, Poll: iv.Poll, Log: GinkgoWriter})
	skipUnlessOwned(err)
	By("waiting until " + pr.readyWhat)
	back, readyErr := f.watch.Until(ctx, pr.readyFrom(rs), iv.MeshReady, pr.ready)
	By("probing " + iv.Consistently.String() + " longer: a late failure still counts")
	select {
	case <-ctx.Done():
	case <-time.After(iv.Consistently):
	}
	end := time.Now()
	d := f.disturbance(rs.Deleted)

	budget := e.Config.FaultOutageBudget
	during := d.Report(e.Book, fmt.Sprintf("while %s's %s restarted, and %s after the mesh was back (outage budget %s per source)", target, pr.pod, iv.Consistently, budget),
		rs.Deleted, end, GinkgoWriter)
	during.Timings = append(during.Timings, verdict.Timing{Name: "new " + pr.pod + " pod Ready, after the delete", Source: target, Duration: rs.Replaced})
	if readyErr == nil {
		during.Timings = append(during.Timings, verdict.Timing{Name: pr.readyWhat + ", after the delete", Source: target, Duration: back.At.Sub(rs.Deleted)})
		e.Logf(target, "%s pod %s restarted: new pod %s Ready after %s; %s after %s", pr.pod, rs.Old, rs.New, rs.Replaced.Round(time.Millisecond),
			pr.readyWhat, back.At.Sub(rs.Deleted).Round(time.Millisecond))
	}
	during.Timings = append(during.Timings, d.ViewTimings(base.Keys(), end, time.Time{}, GinkgoWriter)...)
	window := d.Record.Between(rs.Deleted, end)
	duringErr := errors.Join(wrap(pr.readyWhat, readyErr),
		wrap(fmt.Sprintf("each source's longest run of failed requests within the outage budget (%s)", budget), check.FailuresWithin(window, budget)))
	if pr.judge != nil {
		duringErr = errors.Join(duringErr, pr.judge(window))
	}
	during.SetVerdict(duringErr)

	afterErr := faultAfter(ctx, e, fmt.Sprintf("after %s's %s restarted", target, pr.pod), end, "the probing ended")
	failIf(errors.Join(duringErr, afterErr), "%s's %s restarted", target, pr.pod)
	return check.Span{Name: fmt.Sprintf("%s's %s restart", target, pr.pod), From: rs.Deleted, To: end}
}

// PartitionSpec: one kind cluster is cut off from the other two at the
// network (iptables in the node containers, fixtures/fault), for
// Intervals.Partition, then healed. Cilium documents what happens to the
// backends of an unreachable cluster: "Cilium will retain the last-known
// service information", which "can lead to traffic being sent to stale or
// unreachable backends", until clustermesh.cacheTTL (0s: never) revokes it
// (docs: global services, "Handling Unreachable Clusters"). So with a TTL
// of 0 or longer than the cut, every cluster must keep listing the cut-off
// cluster's backends (and the cut-off cluster the others') for the whole
// cut: judged. The cut itself must hold (no other cluster answered by the
// cut-off one meanwhile). The failed requests, when each agent and
// KVStoreMesh noticed the cut, and how long each view and each source took
// to recover after the heal are reported: Cilium promises no figure for
// them. After the heal every cluster must answer every source again
// (judged).
func PartitionSpec(input func() SpecInput) {
	It("keeps the unreachable cluster's backends while it is cut off, as documented, and recovers after the heal", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		target := e.Names()[1]
		others := e.Others(target)
		if e.Config.Provider != config.ProviderKind {
			Skip(fmt.Sprintf("the cut is made with iptables in kind node containers the suite created; provider %q has none", e.Config.Provider))
		}
		kind := cluster.NewKind(e.Config, cluster.Options{Log: GinkgoWriter, Runner: cluster.ExecRunner{}})
		nodes, err := fault.KindNodes(ctx, fault.KindNodesInput{Clusters: e.Names(), Marker: kind.Marker, Runner: cluster.ExecRunner{}})
		skipUnlessOwned(err)
		ttl := cacheTTLs(ctx, e)

		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)
		base := faultBefore(ctx, e, "before "+target+" is cut off")
		via := remoteVia(base, others[0], target)

		f := startFault(ctx, e, true)
		By("[" + target + "] cutting it off from the other clusters' nodes")
		cutting := time.Now()
		p, err := fault.Cut(ctx, fault.PartitionInput{Isolated: target, Nodes: nodes, Runner: cluster.ExecRunner{}, Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		cut := time.Now() // every node drops from here
		cutTook := cut.Sub(cutting)
		// An interrupted or failed spec heals too; a second Heal does nothing.
		DeferCleanup(func(ctx SpecContext) {
			Expect(p.Heal(ctx)).To(Succeed())
		}, NodeTimeout(iv.WorkloadReady))
		By("keeping the cut for " + iv.Partition.String())
		select {
		case <-ctx.Done():
		case <-time.After(iv.Partition):
		}
		By("[" + target + "] healing the cut")
		healing := time.Now() // the first node may pass traffic from here
		Expect(p.Heal(ctx)).To(Succeed())
		healed := time.Now() // every node passes traffic again
		By("waiting until every agent and KVStoreMesh sees every remote cluster ready again")
		back, ready := f.watch.Until(ctx, healed, iv.MeshReady, check.Snapshot.AllReady)
		By("probing the global service from every cluster until every cluster answers every source again")
		_, recovered := e.Await(ctx, e.Everyone("right after the cut of "+target+" healed"), time.Time{}, iv.BackendsSynced)
		end := time.Now()
		d := f.disturbance(cut)

		during := d.Report(e.Book, fmt.Sprintf("while %s was cut off (%s)", target, healing.Sub(cut).Round(time.Second)), cut, healing, GinkgoWriter)
		during.Timings = append(during.Timings,
			verdict.Timing{Name: "the cut: rules in every node", Source: target, Duration: cutTook},
			verdict.Timing{Name: "the heal: rules out of every node", Source: target, Duration: healed.Sub(healing)})
		during.Timings = append(during.Timings, d.ViewTimings(base.Keys(), healing, healing, GinkgoWriter)...)
		if err := check.SawLost(d.Timeline, keysOf(e, via, target), cut, healing); err != nil {
			e.Logf(target, "the other clusters never saw it not ready while it was cut off: %v", err)
		}
		// The cut must hold: once the requests made before it had ended,
		// no other cluster was answered by the cut-off one.
		duringErr := cutHeld(d.Record.Between(cut.Add(iv.Request), healing), others, target)
		var crossing []check.ViewKey
		for _, o := range others {
			crossing = append(crossing, check.ViewKey{Observer: o, Via: check.ViaAgents, Remote: target}, check.ViewKey{Observer: target, Via: check.ViaAgents, Remote: o})
		}
		if ttl == 0 || ttl > iv.Partition {
			duringErr = errors.Join(duringErr, wrap(fmt.Sprintf("every cluster kept the unreachable clusters' backends (clustermesh cache TTL %s: documented as retained)", ttlText(ttl)),
				check.KeptBackends(d.Timeline, crossing, cut, healing)))
		} else {
			e.Logf(target, "clustermesh cache TTL %s is shorter than the cut (%s): Cilium documents the unreachable cluster's backends revoked after it; reported, not judged", ttl, iv.Partition)
		}
		during.SetVerdict(duringErr)

		after := d.Report(e.Book, "after the cut of "+target+" healed", healed, end, GinkgoWriter)
		lost := map[string][]string{target: others}
		for _, o := range others {
			lost[o] = []string{target}
		}
		after.Timings = append(after.Timings, d.FirstAnswers(healing, "the heal began", lost, GinkgoWriter)...)
		if ready == nil {
			after.Timings = append(after.Timings, verdict.Timing{Name: "every agent and KVStoreMesh ready again, after the heal began", Source: target, Duration: back.At.Sub(healing)})
			e.Logf(target, "cut for %s; every agent and KVStoreMesh ready again %s after the heal began", healing.Sub(cut).Round(time.Millisecond), back.At.Sub(healing).Round(time.Millisecond))
		}
		afterErr := errors.Join(wrap("every agent and KVStoreMesh ready again", ready), wrap("every cluster answers every source again", recovered))
		after.SetVerdict(afterErr)
		afterErr = errors.Join(afterErr, faultAfter(ctx, e, "after the cut of "+target+" healed", healed, "the heal"))
		failIf(errors.Join(duringErr, afterErr), "%s was cut off", target)
	})
}

// cutHeld is nil when no source of others was answered by target in rec.
func cutHeld(rec probe.Record, others []string, target string) error {
	t := rec.Tally()
	var errs []error
	for _, o := range others {
		if n := t.Count(o, target); n > 0 {
			errs = append(errs, fmt.Errorf("the cut did not hold: [%s] was answered %d times by %s while it was cut off", o, n, target))
		}
	}
	return errors.Join(errs...)
}

// answeredFrom is check.AnsweredFrom, refusing to judge a source that made
// too few requests for "never answered by" to be unlikely by chance.
func answeredFrom(e *Env, rec probe.Record, sources []string, cluster string) error {
	t := rec.Tally()
	var errs []error
	for _, src := range sources {
		if n := t.Requests(src); n < e.Requests {
			errs = append(errs, fmt.Errorf("[%s] only %d requests in the window, fewer than the %d a verdict needs", src, n, e.Requests))
		}
	}
	return errors.Join(append(errs, check.AnsweredFrom(rec, sources, cluster))...)
}

// clientNode is the node of cluster name's client pod.
func clientNode(ctx context.Context, e *Env, name string) (string, error) {
	c := e.Clients[name]
	p, err := e.Cluster(name).Client.CoreV1().Pods(c.Namespace).Get(ctx, c.Pod, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("[%s] get client pod %s/%s: %w", name, c.Namespace, c.Pod, err)
	}
	return p.Spec.NodeName, nil
}

// cacheTTLs is the longest clustermesh cache TTL of the run's clusters (0
// when every one keeps remote state forever).
func cacheTTLs(ctx context.Context, e *Env) time.Duration {
	var ttl time.Duration
	for _, h := range e.Handles {
		ci, err := cilium.Inspect(ctx, h, cilium.HelmReleases{})
		Expect(err).NotTo(HaveOccurred())
		d, err := ci.CacheTTL()
		Expect(err).NotTo(HaveOccurred(), "[%s]", h.Name)
		e.Logf(h.Name, "clustermesh cache TTL: %s", ttlText(d))
		ttl = max(ttl, d)
	}
	return ttl
}

func ttlText(d time.Duration) string {
	if d == 0 {
		return "0s (never revoked)"
	}
	return d.String()
}

// failIf fails the spec with err's text under a heading (the verdicts'
// messages, one per line, without Gomega's dump of the joined errors).
func failIf(err error, format string, args ...any) {
	if err != nil {
		Fail(fmt.Sprintf(format, args...) + ":\n" + err.Error())
	}
}

// wrap names a failed verdict; nil stays nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
