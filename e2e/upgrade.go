package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
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
	cfg      config.Config // resolved: image source decided
	up       *bringup.Upgrade
	bg       *probe.Background
	began    time.Time
	clusters []bringup.ClusterUpgrade
	gates    map[string][2]time.Duration // cluster -> agents, mesh gate
	rec      *probe.Record
	judged   bool
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
		run = &upgradeRun{gates: map[string][2]time.Duration{}}
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
			run.clusters = append(run.clusters, res)
			Expect(err).NotTo(HaveOccurred())
			e.Logf(name, "upgraded in %s (helm %s, rollout %s)", res.Took().Round(time.Millisecond), res.Helm.Round(time.Millisecond), res.Rollout.Round(time.Millisecond))

			gate := cilium.GateInput{Handles: []cluster.Handle{handleOf(e, name)}, Intervals: e.Intervals(), Log: GinkgoWriter}
			By(fmt.Sprintf("[%s] gating on its agents, operator and ClusterMesh API server", name))
			p := time.Now()
			Expect(cilium.GateAgents(ctx, gate)).To(Succeed())
			agents := time.Since(p)
			By("gating on the mesh: every agent of every cluster sees every other cluster")
			gate.Handles = e.Handles
			p = time.Now()
			Expect(cilium.GateMesh(ctx, gate)).To(Succeed())
			run.gates[name] = [2]time.Duration{agents, time.Since(p)}

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

// saveDisruption records the requests made during the upgrade as a verdict
// report (the matrix, with failures by kind), its timings (each cluster's
// upgrade and gates; each source's failure window and longest run, from the
// moment the upgrade began), the verdict against the budget; and the
// detailed runs of failed requests under ARTIFACTS/upgrade.
func saveDisruption(e *Env, r *upgradeRun) *verdict.Report {
	r.judged = true
	budget := e.Config.UpgradeOutageBudget
	rep := e.Book.New(fmt.Sprintf("requests during the upgrade %s -> %s (outage budget %s per source)",
		r.cfg.Start().CiliumVersion, r.cfg.CiliumVersion, budget), e.Names()...)
	rep.Started, rep.Tally, rep.Duration = r.began, r.rec.Tally(e.Names()...), r.rec.Stopped.Sub(r.rec.Started)
	if r.up != nil && r.up.Preload > 0 {
		rep.Timings = append(rep.Timings, verdict.Timing{Name: "new images loaded into every node", Duration: r.up.Preload})
	}
	for _, c := range r.clusters {
		rep.Timings = append(rep.Timings,
			verdict.Timing{Name: "upgrade (helm + rollout)", Source: c.Cluster, Duration: c.Took()},
			verdict.Timing{Name: "helm upgrade", Source: c.Cluster, Duration: c.Helm},
			verdict.Timing{Name: "rollout", Source: c.Cluster, Duration: c.Rollout})
		if g, ok := r.gates[c.Cluster]; ok {
			rep.Timings = append(rep.Timings,
				verdict.Timing{Name: "agents gate after its upgrade", Source: c.Cluster, Duration: g[0]},
				verdict.Timing{Name: "mesh gate after its upgrade", Source: c.Cluster, Duration: g[1]})
		}
	}
	var over []string
	ds := r.rec.Disruptions()
	for _, d := range ds {
		if d.Failed == 0 {
			continue
		}
		w, l := d.Window(), d.Longest()
		rep.Timings = append(rep.Timings,
			verdict.Timing{Name: fmt.Sprintf("first failed request (of %d), after the upgrade began", d.Failed), Source: d.Source, Duration: w.From.Sub(r.began)},
			verdict.Timing{Name: "last failed request, after the upgrade began", Source: d.Source, Duration: w.To.Sub(r.began)},
			verdict.Timing{Name: fmt.Sprintf("longest run of failed requests (%d in a row)", l.Failed), Source: d.Source, Duration: l.Duration()})
		if err := d.WithinBudget(budget); err != nil {
			over = append(over, err.Error())
		}
	}
	for src, errs := range r.rec.ExecErrors {
		e.Logf(src, "background probe: %d batches had exec errors (not counted as failed requests), first: %v", len(errs), errs[0])
	}
	if len(over) > 0 {
		rep.SetVerdict(fmt.Errorf("%s", strings.Join(over, "\n")))
	} else {
		rep.SetVerdict(nil)
	}
	if err := writeDisruption(filepath.Join(e.Config.Artifacts, "upgrade"), r, ds); err != nil {
		e.Logf("", "%v", err)
	}
	return rep
}

// disruptionJSON is ARTIFACTS/upgrade/disruption.json.
type disruptionJSON struct {
	From          string        `json:"from"`
	To            string        `json:"to"`
	Began         time.Time     `json:"began"`
	Ended         time.Time     `json:"ended"`
	BudgetSeconds float64       `json:"budgetSeconds"`
	Clusters      []clusterJSON `json:"clusters"`
	Sources       []sourceJSON  `json:"sources"`
}

type clusterJSON struct {
	Cluster           string    `json:"cluster"`
	Started           time.Time `json:"started"`
	HelmSeconds       float64   `json:"helmSeconds"`
	RolloutSeconds    float64   `json:"rolloutSeconds"`
	AgentsGateSeconds float64   `json:"agentsGateSeconds"`
	MeshGateSeconds   float64   `json:"meshGateSeconds"`
	// Requests (from every source) that ended while this cluster was
	// upgraded and gated, and how many of them failed.
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
}

type sourceJSON struct {
	Source     string         `json:"source"`
	Requests   int            `json:"requests"`
	Failed     int            `json:"failed"`
	ByKind     map[string]int `json:"byKind,omitempty"`
	ExecErrors int            `json:"execErrors"`
	Outages    []outageJSON   `json:"outages,omitempty"`
}

type outageJSON struct {
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Failed          int       `json:"failed"`
	DurationSeconds float64   `json:"durationSeconds"`
}

// during counts the requests of every source that ended within [from, to].
func during(rec *probe.Record, from, to time.Time) (requests, failed int) {
	for _, samples := range rec.Samples {
		for _, s := range samples {
			if s.End.Before(from) || s.End.After(to) {
				continue
			}
			requests++
			if s.Err != nil {
				failed++
			}
		}
	}
	return requests, failed
}

func writeDisruption(dir string, r *upgradeRun, ds []probe.Disruption) error {
	out := disruptionJSON{From: r.cfg.Start().CiliumVersion, To: r.cfg.CiliumVersion, Began: r.began.UTC(), Ended: r.rec.Stopped.UTC(),
		BudgetSeconds: r.cfg.UpgradeOutageBudget.Seconds()}
	var md strings.Builder
	fmt.Fprintf(&md, "# Upgrade %s -> %s\n\nBackground probe %s .. %s (UTC); outage budget %s per source.\n\n",
		out.From, out.To, out.Began.Format(time.TimeOnly), out.Ended.Format(time.TimeOnly), r.cfg.UpgradeOutageBudget)
	md.WriteString("| cluster | started | helm | rollout | agents gate | mesh gate | requests meanwhile | failed |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.clusters {
		g := r.gates[c.Cluster]
		n, failed := during(r.rec, c.Started, c.Started.Add(c.Took()+g[0]+g[1]))
		out.Clusters = append(out.Clusters, clusterJSON{Cluster: c.Cluster, Started: c.Started.UTC(), HelmSeconds: c.Helm.Seconds(),
			RolloutSeconds: c.Rollout.Seconds(), AgentsGateSeconds: g[0].Seconds(), MeshGateSeconds: g[1].Seconds(), Requests: n, Failed: failed})
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s | %d | %d |\n", c.Cluster, c.Started.UTC().Format(time.TimeOnly),
			c.Helm.Round(time.Millisecond), c.Rollout.Round(time.Millisecond), g[0].Round(time.Millisecond), g[1].Round(time.Millisecond), n, failed)
	}
	md.WriteString("\n| source | requests | failed | by kind | exec errors | longest run | failure window (UTC) |\n|---|---|---|---|---|---|---|\n")
	for _, d := range ds {
		s := sourceJSON{Source: d.Source, Requests: d.Requests, Failed: d.Failed, ByKind: map[string]int{}, ExecErrors: len(r.rec.ExecErrors[d.Source])}
		var kinds []string
		for _, k := range probe.Kinds {
			if n := d.ByKind[k]; n > 0 {
				s.ByKind[string(k)] = n
				kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
			}
		}
		for _, o := range d.Outages {
			s.Outages = append(s.Outages, outageJSON{From: o.From.UTC(), To: o.To.UTC(), Failed: o.Failed, DurationSeconds: o.Duration().Seconds()})
		}
		out.Sources = append(out.Sources, s)
		window := "-"
		if w := d.Window(); w.Failed > 0 {
			window = w.From.UTC().Format("15:04:05.000") + " .. " + w.To.UTC().Format("15:04:05.000")
		}
		fmt.Fprintf(&md, "| %s | %d | %d | %s | %d | %s | %s |\n", d.Source, d.Requests, d.Failed, strings.Join(kinds, ", "),
			s.ExecErrors, d.Longest().Duration().Round(time.Millisecond), window)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save upgrade report: %w", err)
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("save upgrade report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "disruption.json"), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("save upgrade report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "disruption.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("save upgrade report: %w", err)
	}
	return nil
}
