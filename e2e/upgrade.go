package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/fault"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// UpgradeBatch is the background probe's requests per exec: small, so a
// failed request is placed in time to within a few requests.
const UpgradeBatch = 10

// UpgradeInput is what the upgrade specs need beyond the environment.
type UpgradeInput struct {
	SpecInput
	// Mesh is process 1's bring-up (its cluster provider loads images into
	// kind nodes); the upgrade specs are Serial, so they run there.
	Mesh *Mesh
}

// KeepAliveRate is how many requests a second every long-lived connection
// sends: steady, so a break is placed in time to within half a second.
const KeepAliveRate = 2

// roundVerbs name the upgrade flow's rounds, in order (and, with dashes,
// their directories under ARTIFACTS).
var roundVerbs = []string{"upgrade", "downgrade", "upgrade again"}

// upgradeRun is the state the ordered upgrade steps share.
type upgradeRun struct {
	cfg    config.Config // resolved: image source decided
	rounds []*round
}

// round is every cluster moved, one at a time, from one version to
// another, under the background probe and the long-lived connections.
type round struct {
	verb     string // one of roundVerbs
	from, to string // Cilium versions
	tag      string // the image tag every cluster runs after the round
	up       *bringup.Upgrade
	// preload is how long this round took to put its images on the
	// nodes (the first round only: the others find them there).
	preload  time.Duration
	bg       *probe.Background
	began    time.Time
	steps    []check.UpgradeStep
	spans    []check.Span // steps and restarts, in time order
	rec      *probe.Record
	kas      []*probe.KeepAlive
	kaRecs   []probe.KeepAliveRecord
	kaOpened bool // the long-lived connections were opened
	judged   bool
	kaJudged bool
}

// UpgradeSpec upgrades the mesh from Config.UpgradeFrom to
// Config.CiliumVersion as an operator would, one cluster at a time, while a
// client in every cluster keeps making new connections to the global
// service; then downgrades it back to UpgradeFrom the same way (the
// rollback an operator must be able to make), and upgrades it again, so
// every other spec runs on the upgraded mesh: upgrade mode's purpose is
// that the specs pass on the NEW version, and the third round costs
// nothing to describe (the same steps). names are the clusters in
// upgrade order.
//
// Failed requests during each round are judged against a budget, not
// forbidden. Cilium's own upgrade test asserts that LONG-LIVED connections
// survive an agent restart; NEW connections may fail for a few seconds while
// a node's agent restarts (its BPF state is restored, endpoints
// regenerated) and while the restarted ClusterMesh API server is
// reconnected to. Refusing any failure would fail every healthy upgrade;
// ignoring them would hide a real outage. So every failure is counted and
// reported per source with its time window, and the spec fails when one
// source's longest run of failed requests exceeds
// Config.UpgradeOutageBudget (UPGRADE_OUTAGE_BUDGET; 0 forbids any failure).
//
// Long-lived connections are judged without a budget: before a round's
// first cluster moves, every cluster's client opens one HTTP keep-alive
// connection to a helloworld pod of every other cluster, by the pod's IP,
// and sends KeepAliveRate requests a second over it until the round ends
// (probe.KeepAlive). By pod IP, not through the global service: the
// service picks a backend once, when the connection is made, so what is
// then kept is a connection to one pod either way; by its IP every
// (source, target) pair of clusters is a connection of its own, a break
// names both ends, and the datapath state that must survive (tunnel or
// routes to the remote pod range, conntrack, identities of the remote
// cluster) is exactly the cross-cluster one. Any break (a failed request,
// or curl having to open a new connection) fails the round, with which
// connection, when, and during or between which cluster's step.
//
// In the mixed-version mesh of the first round (the first cluster
// upgraded, the others not), that cluster's ClusterMesh API server is
// restarted alone, as the fault spec does it (restartAPIServer): the other
// clusters keep reaching its backends and every agent reconnects, timed.
// The mesh after every round must be clean: every cluster answers every
// source with no failed request.
func UpgradeSpec(input func() UpgradeInput, names []string) {
	run := &upgradeRun{}

	BeforeAll(func(ctx SpecContext) {
		in := input()
		c := in.Env.Config
		if c.UpgradeFrom == "" {
			Skip("upgrade mode is off: set UPGRADE_FROM (-e2e.upgrade-from) to a Cilium version at most one minor release older than " + c.CiliumVersion + ", to install it first and upgrade to " + c.CiliumVersion)
		}
		Expect(in.Mesh).NotTo(BeNil(), "the upgrade needs process 1's bring-up")
		// Resolved once, at the suite's start, for reused clusters too.
		run.cfg = in.Mesh.Config
		old := run.cfg.Start()
		By(fmt.Sprintf("getting the %s chart and putting its images on the nodes", c.CiliumVersion))
		up, err := bringup.PrepareUpgrade(ctx, bringup.UpgradeInput{Config: run.cfg, Handles: in.Env.Handles,
			Provider: in.Mesh.Provider, Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		By(fmt.Sprintf("getting the %s chart for the downgrade (its images are on the nodes: it was installed first)", old.CiliumVersion))
		down, err := bringup.PrepareUpgrade(ctx, bringup.UpgradeInput{Config: old, Handles: in.Env.Handles,
			Provider: in.Mesh.Provider, Log: GinkgoWriter, From: run.cfg.CiliumVersion, ImagesOnNodes: true})
		Expect(err).NotTo(HaveOccurred())
		run.rounds = []*round{
			{verb: roundVerbs[0], from: old.CiliumVersion, to: run.cfg.CiliumVersion, tag: run.cfg.ImageTag, up: up, preload: up.Preload},
			{verb: roundVerbs[1], from: run.cfg.CiliumVersion, to: old.CiliumVersion, tag: old.ImageTag, up: down},
			{verb: roundVerbs[2], from: old.CiliumVersion, to: run.cfg.CiliumVersion, tag: run.cfg.ImageTag, up: up},
		}
	})

	// Whatever step failed, what the probes saw is reported.
	AfterAll(func(ctx SpecContext) {
		e := input().Env
		for _, r := range run.rounds {
			r.stop(ctx, e)
			if r.rec != nil && !r.judged {
				r.saveDisruption(e)
			}
			if r.kaOpened && !r.kaJudged {
				r.keepAliveReport(e)
			}
		}
	})

	It("answers from every cluster, from every cluster, before the upgrade", func(ctx SpecContext) {
		e := input().Env
		from := run.cfg.Start()
		By("checking every cluster runs " + from.ImageTag)
		for _, h := range e.Handles {
			Expect(cilium.RolledOut(ctx, h, from.ImageTag)).To(Succeed(), "[%s] not on %s before the upgrade", h.Name, from.ImageTag)
		}
		By("probing the global service from every cluster")
		e.AwaitState(ctx, e.Everyone("before the upgrade, all on "+from.CiliumVersion), time.Time{}, e.Intervals().BackendsSynced)
	})

	for ri, verb := range roundVerbs {
		roundSteps(input, run, ri, verb, names)
	}
}

// roundSteps are the ordered steps of round ri: each cluster moved and
// gated (and, in the first round, the first cluster's ClusterMesh API
// server restarted in the mixed mesh), then the mesh after it and its
// verdicts.
func roundSteps(input func() UpgradeInput, run *upgradeRun, ri int, verb string, names []string) {
	for i, name := range names {
		last := i == len(names)-1
		It(fmt.Sprintf("%s: moves %s while every cluster keeps probing and keeps its long-lived connections, and passes the agents and mesh gates", verb, name), func(ctx SpecContext) {
			e := input().Env
			r := run.rounds[ri]
			if r.bg == nil {
				r.start(ctx, e)
			}
			By(fmt.Sprintf("[%s] helm upgrade %s -> %s and waiting for every Cilium workload to roll out", name, r.from, r.to))
			res, err := r.up.Cluster(ctx, name)
			r.steps = append(r.steps, check.UpgradeStep{Cluster: name, Started: res.Started, Helm: res.Helm, Rollout: res.Rollout})
			step := &r.steps[len(r.steps)-1]
			defer func() { r.spans = append(r.spans, step.Span(r.verb)) }()
			Expect(err).NotTo(HaveOccurred())
			e.Logf(name, "%s %s -> %s in %s (helm %s, rollout %s)", r.verb, r.from, r.to, res.Took().Round(time.Millisecond), res.Helm.Round(time.Millisecond), res.Rollout.Round(time.Millisecond))

			gate := cilium.GateInput{Handles: []cluster.Handle{handleOf(e, name)}, Intervals: e.Intervals(), Log: GinkgoWriter}
			By(fmt.Sprintf("[%s] gating on its agents, operator and ClusterMesh API server", name))
			p := time.Now()
			Expect(cilium.GateAgents(ctx, gate)).To(Succeed())
			step.AgentsGate = time.Since(p)
			By("gating on the mesh: every agent of every cluster sees every other cluster")
			gate.Handles = e.Handles
			p = time.Now()
			Expect(cilium.GateMesh(ctx, gate)).To(Succeed())
			step.MeshGate = time.Since(p)

			if !last {
				// One minor release of skew is supported in a mesh; this is
				// what the mixed mesh did.
				By("probing the global service in the mixed-version mesh")
				e.AwaitState(ctx, e.Everyone(r.mixedName(names[:i+1])), time.Time{}, e.Intervals().BackendsSynced)
			}
		})
		if ri == 0 && i == 0 && !last {
			It(fmt.Sprintf("upgrade: restarts %s's ClusterMesh API server alone in the mixed-version mesh; the others keep reaching its backends and every agent reconnects", name), func(ctx SpecContext) {
				e := input().Env
				r := run.rounds[ri]
				skipUnlessOwned(fault.CheckRelease(ctx, cilium.HelmReleases{}, handleOf(e, name), "the clustermesh-apiserver pod"))
				span := restartAPIServer(ctx, e, name, "in the mixed-version mesh")
				r.spans = append(r.spans, span)
			})
		}
	}

	It(fmt.Sprintf("%s: answers from every cluster, from every cluster, after it", verb), func(ctx SpecContext) {
		e := input().Env
		r := run.rounds[ri]
		By("stopping the background probe and the long-lived connections")
		r.stop(ctx, e)
		By("checking every cluster runs " + r.tag)
		for _, h := range e.Handles {
			Expect(cilium.RolledOut(ctx, h, r.tag)).To(Succeed())
		}
		By("gating on every agent having helloworld's backends from every cluster")
		Expect(cilium.GateServiceBackends(ctx, cilium.ServiceBackendsInput{
			GateInput: cilium.GateInput{Handles: e.Handles, Intervals: e.Intervals(), Log: GinkgoWriter},
			Namespace: e.Config.Namespace, Name: workload.Service, WantPerCluster: 1})).To(Succeed())
		By("probing the global service from every cluster")
		e.AwaitState(ctx, e.Everyone(fmt.Sprintf("after the %s, all on %s", r.verb, r.to)), time.Time{}, e.Intervals().BackendsSynced)
	})

	It(fmt.Sprintf("%s: kept each source's longest run of failed new connections within the outage budget", verb), func(ctx SpecContext) {
		r := run.rounds[ri]
		r.judge(ctx, input().Env, func() bool { return r.rec != nil }, "the background probe", r.saveDisruption)
	})

	It(fmt.Sprintf("%s: kept every long-lived connection to every other cluster's backend", verb), func(ctx SpecContext) {
		r := run.rounds[ri]
		r.judge(ctx, input().Env, func() bool { return r.kaOpened }, "the long-lived connections", r.keepAliveReport)
	})
}

// judge stops the round's probes and fails the spec with report's failure
// unless it passed; ran, asked once they are stopped, says whether what it
// judges (what) ever ran.
func (r *round) judge(ctx context.Context, e *Env, ran func() bool, what string, report func(*Env) *verdict.Report) {
	GinkgoHelper()
	r.stop(ctx, e)
	Expect(ran()).To(BeTrue(), "%s never ran", what)
	rep := report(e)
	Expect(rep.Passed).To(BeTrue(), "%s", rep.Failure)
}

// start starts the round's background probe of the global service from
// every cluster and its long-lived connections, and waits until every
// connection is up and kept.
func (r *round) start(ctx context.Context, e *Env) {
	iv := e.Intervals()
	clients := make([]probe.Client, 0, len(e.Names()))
	for _, n := range e.Names() {
		clients = append(clients, e.Clients[n])
	}
	By(fmt.Sprintf("opening a long-lived connection from every cluster to a helloworld pod of every other cluster (%d requests a second)", KeepAliveRate))
	port := workload.ParamsFor(e.Config)(e.Clusters[0]).ContainerPort
	transfers := min(probe.MaxRequests, int(iv.KeepAlive.Seconds())*KeepAliveRate)
	r.kaOpened = true
	for _, src := range e.Names() {
		for _, dst := range e.Others(src) {
			ips, err := workload.AppPodIPs(ctx, e.Cluster(dst), e.Config.Namespace)
			Expect(err).NotTo(HaveOccurred())
			ka, err := probe.StartKeepAlive(ctx, probe.KeepAliveInput{Client: e.Clients[src], Target: dst, URL: probe.PodURL(ips[0], port),
				Rate: KeepAliveRate, Transfers: transfers, Timeout: iv.Request, Known: e.Known})
			Expect(err).NotTo(HaveOccurred())
			e.Logf(src, "long-lived connection to %s's pod %s opened (%d requests at most)", dst, ips[0], transfers)
			r.kas = append(r.kas, ka)
		}
	}
	By("waiting until every long-lived connection has answered twice over one connection")
	var broken error
	Expect(kube.Poll(ctx, iv.BackendsSynced, iv.Poll, func(ctx context.Context) error {
		var errs []error
		for _, ka := range r.kas {
			rec, err := ka.Read(ctx)
			if err == nil {
				err = rec.Established()
			}
			if errors.Is(err, probe.ErrNotKept) {
				broken = err
				return nil
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})).To(Succeed())
	Expect(broken).NotTo(HaveOccurred(), "a long-lived connection broke before the %s began", r.verb)

	By("starting a background probe of the global service from every cluster")
	r.began = time.Now()
	// Not the spec's ctx: the probe outlives the step that starts it. Stop
	// ends it (the last steps, or AfterAll).
	r.bg = probe.StartBackground(context.Background(), probe.BackgroundInput{
		Clients: clients, URL: probe.ServiceURL(workload.Service, e.Config.Namespace), Batch: UpgradeBatch,
		Timeout: iv.Request, Known: e.Known, Log: GinkgoWriter})
}

// stop ends the background probe and the long-lived connections (once).
func (r *round) stop(ctx context.Context, e *Env) {
	if r.bg != nil && r.rec == nil {
		rec := r.bg.Stop()
		r.rec = &rec
	}
	if r.kaRecs != nil || len(r.kas) == 0 {
		return
	}
	r.kaRecs = []probe.KeepAliveRecord{}
	for _, ka := range r.kas {
		rec, err := ka.Stop(ctx)
		if err != nil {
			// The record keeps what was read; an unreadable one shows as a
			// break (too few transfers).
			e.Logf(rec.Source, "%v", err)
		}
		r.kaRecs = append(r.kaRecs, rec)
	}
}

func (r *round) mixedName(moved []string) string {
	return fmt.Sprintf("mixed mesh (%s): %s on %s, the others on %s", r.verb, strings.Join(moved, ", "), r.to, r.from)
}

// keepAliveReport records the round's long-lived connections in the book,
// each break placed against the round's steps.
func (r *round) keepAliveReport(e *Env) *verdict.Report {
	r.kaJudged = true
	spans := slices.Clone(r.spans)
	slices.SortFunc(spans, func(a, b check.Span) int { return a.From.Compare(b.From) })
	k := check.KeepAlives{What: fmt.Sprintf("the %s %s -> %s", r.verb, r.from, r.to), Began: r.began, Spans: spans,
		Records: r.kaRecs, Clusters: e.Names()}
	return k.Report(e.Book, e.Log)
}

func handleOf(e *Env, name string) cluster.Handle {
	for _, h := range e.Handles {
		if h.Name == name {
			return h
		}
	}
	Fail("unknown cluster " + name)
	return cluster.Handle{}
}

// saveDisruption records the requests made during the round as a
// verdict report judged against the outage budget, and the detailed runs
// of failed requests under ARTIFACTS/<round verb, dashed> (check.Upgrade).
func (r *round) saveDisruption(e *Env) *verdict.Report {
	r.judged = true
	u := check.Upgrade{From: r.from, To: r.to, Verb: r.verb, Budget: e.Config.UpgradeOutageBudget,
		Began: r.began, Steps: r.steps, Record: *r.rec, Clusters: e.Names(), Preload: r.preload}
	rep := u.Report(e.Book, e.Log)
	if err := u.Write(filepath.Join(e.Config.Artifacts, strings.ReplaceAll(r.verb, " ", "-"))); err != nil {
		e.Logf("", "%v", err)
	}
	return rep
}
