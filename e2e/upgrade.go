package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
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

// upgradeRun is the state the ordered upgrade steps share.
type upgradeRun struct {
	cfg    config.Config // resolved: image source decided
	up     *bringup.Upgrade
	bg     *probe.Background
	began  time.Time
	steps  []check.UpgradeStep
	rec    *probe.Record
	judged bool
}

// UpgradeSpec upgrades the mesh from Config.UpgradeFrom to
// Config.CiliumVersion as an operator would, one cluster at a time, while a
// client in every cluster keeps making new connections to the global
// service; every other spec then runs on the upgraded mesh. names are the
// clusters in upgrade order.
//
// Failed requests during the upgrade are judged against a budget, not
// forbidden. Cilium's own upgrade test asserts that LONG-LIVED connections
// survive an agent restart; NEW connections may fail for a few seconds while
// a node's agent restarts (its BPF state is restored, endpoints
// regenerated) and while the restarted ClusterMesh API server is
// reconnected to. Refusing any failure would fail every healthy upgrade;
// ignoring them would hide a real outage. So every failure is counted and
// reported per source with its time window, and the spec fails when one
// source's longest run of failed requests exceeds
// Config.UpgradeOutageBudget (UPGRADE_OUTAGE_BUDGET; 0 forbids any failure).
// The mesh after the upgrade must be clean: every cluster answers every
// source with no failed request.
func UpgradeSpec(input func() UpgradeInput, names []string) {
	var run *upgradeRun

	BeforeAll(func(ctx SpecContext) {
		in := input()
		c := in.Env.Config
		if c.UpgradeFrom == "" {
			Skip("upgrade mode is off: set UPGRADE_FROM (-e2e.upgrade-from) to an older Cilium version, e.g. 1.19.7, to install it first and upgrade to " + c.CiliumVersion)
		}
		Expect(in.Mesh).NotTo(BeNil(), "the upgrade needs process 1's bring-up")
		run = &upgradeRun{}
		var err error
		// Resolved once, at the suite's start, for reused clusters too.
		run.cfg = in.Mesh.Config
		By(fmt.Sprintf("getting the %s chart and putting its images on the nodes", c.CiliumVersion))
		run.up, err = bringup.PrepareUpgrade(ctx, bringup.UpgradeInput{Config: run.cfg, Handles: in.Env.Handles,
			Provider: in.Mesh.Provider, Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
	})

	// Whatever step failed, the requests the probe saw are reported.
	AfterAll(func() {
		if run == nil || run.judged {
			return
		}
		e := input().Env
		run.stop()
		if run.rec != nil {
			saveDisruption(e, run)
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

	for i, name := range names {
		last := i == len(names)-1
		It(fmt.Sprintf("upgrades %s while every cluster keeps probing, and passes the agents and mesh gates", name), func(ctx SpecContext) {
			e := input().Env
			if run.bg == nil {
				By("starting a background probe of the global service from every cluster")
				run.start(e)
			}
			By(fmt.Sprintf("[%s] helm upgrade to %s and waiting for every Cilium workload to roll out", name, run.cfg.CiliumVersion))
			res, err := run.up.Cluster(ctx, name)
			run.steps = append(run.steps, check.UpgradeStep{Cluster: name, Started: res.Started, Helm: res.Helm, Rollout: res.Rollout})
			step := &run.steps[len(run.steps)-1]
			Expect(err).NotTo(HaveOccurred())
			e.Logf(name, "upgraded in %s (helm %s, rollout %s)", res.Took().Round(time.Millisecond), res.Helm.Round(time.Millisecond), res.Rollout.Round(time.Millisecond))

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
				e.AwaitState(ctx, e.Everyone(run.mixedName(names[:i+1])), time.Time{}, e.Intervals().BackendsSynced)
			}
		})
	}

	It("answers from every cluster, from every cluster, after the upgrade", func(ctx SpecContext) {
		e := input().Env
		By("stopping the background probe")
		run.stop()
		By("checking every cluster runs " + run.cfg.ImageTag)
		for _, h := range e.Handles {
			Expect(cilium.RolledOut(ctx, h, run.cfg.ImageTag)).To(Succeed())
		}
		By("gating on every agent having helloworld's backends from every cluster")
		Expect(cilium.GateServiceBackends(ctx, cilium.ServiceBackendsInput{
			GateInput: cilium.GateInput{Handles: e.Handles, Intervals: e.Intervals(), Log: GinkgoWriter},
			Namespace: e.Config.Namespace, Name: workload.Service, WantPerCluster: 1})).To(Succeed())
		By("probing the global service from every cluster")
		e.AwaitState(ctx, e.Everyone("after the upgrade, all on "+run.cfg.CiliumVersion), time.Time{}, e.Intervals().BackendsSynced)
	})

	It("kept each source's longest run of failed new connections within the outage budget", func() {
		e := input().Env
		run.stop()
		Expect(run.rec).NotTo(BeNil(), "the background probe never ran")
		r := saveDisruption(e, run)
		Expect(r.Passed).To(BeTrue(), "%s", r.Failure)
	})
}

func (r *upgradeRun) start(e *Env) {
	clients := make([]probe.Client, 0, len(e.Names()))
	for _, n := range e.Names() {
		clients = append(clients, e.Clients[n])
	}
	r.began = time.Now()
	// Not the spec's ctx: the probe outlives the step that starts it. Stop
	// ends it (the last steps, or AfterAll).
	r.bg = probe.StartBackground(context.Background(), probe.BackgroundInput{
		Clients: clients, URL: probe.ServiceURL(workload.Service, e.Config.Namespace), Batch: UpgradeBatch,
		Timeout: e.Intervals().Request, Known: e.Known, Log: GinkgoWriter})
}

func (r *upgradeRun) stop() {
	if r.bg == nil || r.rec != nil {
		return
	}
	rec := r.bg.Stop()
	r.rec = &rec
}

func (r *upgradeRun) mixedName(upgraded []string) string {
	return fmt.Sprintf("mixed mesh: %s on %s, the others on %s", strings.Join(upgraded, ", "), r.cfg.CiliumVersion, r.cfg.Start().CiliumVersion)
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

// saveDisruption records the requests made during the upgrade as a
// verdict report judged against the outage budget, and the detailed runs of
// failed requests under ARTIFACTS/upgrade (check.Upgrade).
func saveDisruption(e *Env, r *upgradeRun) *verdict.Report {
	r.judged = true
	u := check.Upgrade{From: r.cfg.Start().CiliumVersion, To: r.cfg.CiliumVersion, Budget: e.Config.UpgradeOutageBudget,
		Began: r.began, Steps: r.steps, Record: *r.rec, Clusters: e.Names()}
	if r.up != nil {
		u.Preload = r.up.Preload
	}
	rep := u.Report(e.Book, e.Log)
	if err := u.Write(filepath.Join(e.Config.Artifacts, "upgrade")); err != nil {
		e.Logf("", "%v", err)
	}
	return rep
}
