package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/format"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/artifacts"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/junit"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// Labels, one per area; GINKGO_LABEL_FILTER picks among them.
var (
	LabelMesh     = Label("mesh")
	LabelGlobal   = Label("global")
	LabelShared   = Label("shared")
	LabelAffinity = Label("affinity")
	LabelFailover = Label("failover")
	LabelRuntime  = Label("runtime")
	LabelRouting  = Label("routing")
	LabelUpgrade  = Label("upgrade")
	// LabelReadiness: a backend not ready, then terminating.
	LabelReadiness = Label("readiness")
	LabelShapes    = Label("shapes")
	// Network policy across clusters, Hubble's view of it, encryption.
	LabelPolicy     = Label("policy")
	LabelHubble     = Label("hubble")
	LabelEncryption = Label("encryption")
	LabelFault      = Label("fault")
	LabelMCS        = Label("mcs")
)

var (
	loader    = config.Bind(flag.CommandLine)
	cfg       config.Config
	env       *Env
	anyFailed atomic.Bool
	// setupHandles are process 1's handles from the suite setup.
	setupHandles []cluster.Handle
	// setupMesh is process 1's bring-up (the upgrade specs use its provider).
	setupMesh *Mesh
)

func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("the e2e suite needs three meshed clusters: run make e2e")
	}
	RegisterFailHandler(Fail)
	// A failed verdict prints its matrix through Error(); do not dump the
	// error's struct after it.
	format.UseStringerRepresentation = true
	var err error
	start := time.Now()
	if cfg, err = loader.Load(os.LookupEnv); err != nil {
		refuse(t, err, time.Since(start))
	}
	// Static checks only here; config.Resolve runs once, in the suite's
	// setup (process 1), and hands its result to every process.
	if err := cfg.Validate(); err != nil {
		refuse(t, err, time.Since(start))
	}
	if err := oneProcessForUpgrade(cfg, ginkgoProcs()); err != nil {
		refuse(t, err, time.Since(start))
	}
	RunSpecs(t, "ClusterMesh conformance")
}

// refuse fails the run on a configuration error before any spec ran, and
// writes the JUnit report Ginkgo would have written, naming the error: the
// path the ginkgo CLI gave the suite (it merges it into ARTIFACTS/junit.xml),
// or ARTIFACTS/junit.xml when the suite runs without the CLI.
func refuse(t *testing.T, err error, took time.Duration) {
	t.Helper()
	_, rc := GinkgoConfiguration()
	path := rc.JUnitReport
	if path == "" {
		dir := cfg.Artifacts
		if dir == "" {
			dir = config.Default().Artifacts
		}
		path = filepath.Join(dir, junit.FileName)
	}
	if werr := junit.WriteFailure(path, junit.Failure{Suite: config.SuiteName, Name: "configuration", Err: err, Duration: took}); werr != nil {
		t.Log(werr)
	}
	t.Fatal(err)
}

// handleRef is what process 1 hands the other processes to rebuild handles.
type handleRef struct {
	Name, Kubeconfig, Context string
}

// setupData is what process 1 hands the other processes: the configuration
// it resolved (so that no process resolves it again, differently) and the
// clusters.
type setupData struct {
	Config  config.Config
	Handles []handleRef
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	// Every wait of the bring-up says what it still waits for, every 15 s.
	kube.Progress = GinkgoWriter
	By("resolving the configuration (once, for the whole run)")
	var err error
	cfg, err = config.Resolve(ctx, cfg, cluster.ResolveSeams(GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	config.Print(GinkgoWriter, cfg)
	Expect(config.WriteFile(filepath.Join(cfg.Artifacts, "config.yaml"), cfg)).To(Succeed())
	if cfg.UpgradeFrom != "" && !LabelUpgrade.MatchesLabelFilter(GinkgoLabelFilter()) {
		Fail(fmt.Sprintf("UPGRADE_FROM=%s installs %s, but the label filter %q leaves out the upgrade specs, so every other spec would run on %s: add \"upgrade ||\" to GINKGO_LABEL_FILTER, or unset UPGRADE_FROM",
			cfg.UpgradeFrom, cfg.UpgradeFrom, GinkgoLabelFilter(), cfg.UpgradeFrom))
	}
	mesh := &Mesh{Config: cfg, Log: GinkgoWriter}
	setupMesh = mesh
	start := time.Now()
	By("planning the bring-up from what exists (nothing changes yet)")
	plan, err := mesh.Plan(ctx)
	Expect(err).NotTo(HaveOccurred())
	// Registered before bring-up starts, so an interrupt or a failure at
	// any moment of it still removes what this run made. Cleanups run last
	// in, first out: collect (on failure) before teardown.
	DeferCleanup(func(ctx SpecContext) {
		if cfg.SkipCleanup {
			GinkgoWriter.Println("SKIP_CLEANUP: leaving the workload and the clusters behind")
			return
		}
		if len(mesh.Handles) > 0 {
			By("deleting the workload (only what the suite labelled)")
			Expect(workload.Delete(ctx, workload.DeleteInput{Clusters: mesh.Handles, Namespace: cfg.Namespace,
				Wait: workload.Wait{Timeout: cfg.Intervals.WorkloadReady, Poll: cfg.Intervals.Poll}, Log: GinkgoWriter})).To(Succeed())
		}
		By("removing what the plan created")
		Expect(mesh.Down(ctx)).To(Succeed())
	}, NodeTimeout(cfg.Intervals.ClusterCreate))
	DeferCleanup(func(ctx SpecContext) {
		if (anyFailed.Load() || CurrentSpecReport().Failed()) && len(mesh.Handles) > 0 {
			By("collecting artifacts before teardown")
			if err := mesh.Collect(ctx, mesh.Handles); err != nil {
				GinkgoWriter.Println(err)
			}
		}
	}, NodeTimeout(2*time.Minute))

	By("carrying the plan out: clusters, Cilium, CA, the workload, the mesh and every service's backends gated")
	handles, err := mesh.Up(ctx, plan)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("suite setup took %s\n", time.Since(start).Round(time.Millisecond))

	setupHandles = handles
	d := setupData{Config: cfg}
	for _, h := range handles {
		d.Handles = append(d.Handles, handleRef{Name: h.Name, Kubeconfig: h.Kubeconfig, Context: h.Context})
	}
	data, err := json.Marshal(d)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(ctx SpecContext, data []byte) {
	var d setupData
	Expect(json.Unmarshal(data, &d)).To(Succeed())
	cfg = d.Config
	handles := setupHandles
	if handles == nil { // another parallel process: rebuild them
		for _, ref := range d.Handles {
			for _, c := range cfg.Clusters {
				if c.Name != ref.Name {
					continue
				}
				h, err := cluster.HandleFromKubeconfig(c, ref.Kubeconfig, ref.Context)
				if err != nil {
					// A context from a KUBECONFIG list: the default rules find it.
					h, err = cluster.HandleFromKubeconfig(c, "", ref.Context)
				}
				Expect(err).NotTo(HaveOccurred())
				handles = append(handles, h)
			}
		}
	}
	var err error
	env, err = NewEnv(ctx, cfg, handles, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	env.Invert = os.Getenv("E2E_INVERT") == "1"
})

var _ = BeforeEach(func() {
	specServices = nil
	env.Book.Begin(CurrentSpecReport().FullText())
	// Registered here, it runs after the spec's own cleanups (last in,
	// first out), so it also sees the reports they make, such as the
	// restored baseline.
	DeferCleanup(saveSpecReports)
})

// saveSpecReports puts the spec's matrices in the log and under
// ARTIFACTS/matrix, and attaches them to the spec's Ginkgo report: the
// end-of-run summary is written by process 1, which sees every spec's
// report but only its own Book.
func saveSpecReports() {
	reports := env.Book.Current()
	if len(reports) == 0 {
		return
	}
	GinkgoWriter.Print(verdict.Text(reports))
	name := verdict.Slug(CurrentSpecReport().FullText())
	if err := verdict.Save(filepath.Join(cfg.Artifacts, "matrix"), name, reports); err != nil {
		GinkgoWriter.Println(err)
	}
	AddReportEntry(verdict.EntryName, verdict.NewSpecVerdicts(reports), ReportEntryVisibilityNever)
}

// When a spec failed, its evidence goes under ARTIFACTS/<spec>/, taken now:
// the spec's own cleanups run only after the AfterEach nodes.
var _ = AfterEach(func(ctx SpecContext) {
	spec := CurrentSpecReport()
	if !spec.Failed() {
		return
	}
	responses := map[string]string{}
	for _, r := range env.Book.Current() {
		for src, raw := range r.Responses {
			responses[src] += "### " + r.Spec + "\n" + raw + "\n"
		}
	}
	By("collecting the failure's evidence before anything is cleaned up")
	if err := artifacts.CollectSpec(ctx, artifacts.SpecInput{
		Dir: filepath.Join(cfg.Artifacts, verdict.Slug(spec.FullText())), Handles: env.Handles, Clusters: cfg.Clusters,
		Namespace: cfg.Namespace, Services: evidenceServices(), Since: spec.StartTime,
		Responses: responses, Log: GinkgoWriter,
	}); err != nil {
		GinkgoWriter.Printf("evidence incomplete: %v\n", err)
	}
}, NodeTimeout(2*time.Minute))

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		anyFailed.Store(true)
	}
})

// Process 1 tears down after every process is done; before that it must
// know whether a spec failed in any of them (then it collects the clusters'
// artifacts first).
var _ = SynchronizedAfterSuite(func() {
	if err := saveProcessStatus(cfg.Artifacts, GinkgoParallelProcess(), anyFailed.Load()); err != nil {
		GinkgoWriter.Println(err)
	}
}, func() {
	failed, err := anyProcessFailed(cfg.Artifacts, ginkgoProcs())
	if err != nil {
		GinkgoWriter.Println(err)
	}
	if failed {
		anyFailed.Store(true)
	}
})

// The end of the run, on process 1 with every spec's report: the summary
// table in the log, and under ARTIFACTS summary.md, report.html (a page to
// open) and run.svg (the picture); the table also goes to the CI job's
// step summary when $GITHUB_STEP_SUMMARY names one.
var _ = ReportAfterSuite("run summary and report", func(r Report) {
	run, errs := runOf(r, cfg, GinkgoLabelFilter())
	for _, err := range errs {
		GinkgoWriter.Println(err)
	}
	GinkgoWriter.Print("\n" + verdict.SummaryText(run))
	if err := verdict.SaveRun(cfg.Artifacts, run); err != nil {
		GinkgoWriter.Println(err)
	} else {
		GinkgoWriter.Printf("report: %s\n", filepath.Join(cfg.Artifacts, "report.html"))
	}
	if path := os.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
		if err := verdict.AppendSummary(path, run); err != nil {
			GinkgoWriter.Println(err)
		}
	}
})

// input is what a spec that owns no service gets (mesh health, pod IP
// routing: they change nothing).
func input() SpecInput {
	specServices = nil
	return SpecInput{Env: env}
}

// specServices are the services of the running spec, for its evidence.
var specServices []string

// inputFor is what the spec named spec gets: the environment probing its
// own service (workload.ServiceFor).
func inputFor(spec string) func() SpecInput {
	return func() SpecInput {
		svc := workload.ServiceFor(spec)
		specServices = []string{svc.Name}
		return SpecInput{Env: env.ForService(svc)}
	}
}

// evidenceServices are the services whose view a failed spec collects: its
// own, or the shared helloworld for specs that own none.
func evidenceServices() []string {
	if len(specServices) > 0 {
		return specServices
	}
	return []string{workload.Service}
}

// upgradeInput adds process 1's bring-up for the upgrade specs.
func upgradeInput() UpgradeInput { return UpgradeInput{SpecInput: input(), Mesh: setupMesh} }
