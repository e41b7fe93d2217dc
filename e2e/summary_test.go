package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// These run without clusters (go test -short ./e2e/): the summary is built
// from Ginkgo's reports alone.

func verdictsOf(requests ...int) verdict.SpecVerdicts {
	var v verdict.SpecVerdicts
	for i, n := range requests {
		r := verdict.Report{Spec: "check", Tally: verdict.NewTally("cluster-1")}
		r.Tally.AddN("cluster-1", "cluster-1", n)
		r.SetVerdict(nil)
		r.Informational = i > 0
		v.Reports = append(v.Reports, r)
	}
	return v
}

// acrossProcesses is an entry as process 1 receives it from another
// process: JSON, decoded into an interface{}.
func acrossProcesses(t *testing.T, e types.ReportEntry) types.ReportEntry {
	t.Helper()
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back types.ReportEntry
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if _, ok := back.GetRawValue().(verdict.SpecVerdicts); ok {
		t.Fatal("the entry kept its Go value: this does not test the process boundary")
	}
	return back
}

func TestSpecRunsFromGinkgoReports(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	entry := func(v verdict.SpecVerdicts) types.ReportEntry {
		return types.ReportEntry{Name: verdict.EntryName, Value: types.WrapEntryValue(v)}
	}
	reports := types.SpecReports{
		{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStatePassed, StartTime: t0},
		{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{"B"}, LeafNodeText: "ran second, in another process",
			State: types.SpecStateTimedout, StartTime: t0.Add(2 * time.Minute), RunTime: time.Minute,
			Failure:       types.Failure{Message: "A node timeout occurred"},
			ReportEntries: types.ReportEntries{acrossProcesses(t, entry(verdictsOf(30, 10)))}},
		{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{"A"}, LeafNodeText: "ran first",
			State: types.SpecStatePassed, StartTime: t0.Add(time.Minute), RunTime: 12 * time.Second,
			ReportEntries: types.ReportEntries{{Name: "another entry"}, entry(verdictsOf(40))}},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "left out", State: types.SpecStateSkipped},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "interrupted", State: types.SpecStateInterrupted, StartTime: t0.Add(3 * time.Minute)},
		{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStateFailed, StartTime: t0.Add(4 * time.Minute),
			Failure: types.Failure{Message: "teardown failed"}},
	}
	got, errs := specRuns(reports)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	type row struct {
		name     string
		outcome  verdict.Outcome
		state    string
		states   int
		requests int
	}
	want := []row{
		{"A ran first", verdict.OutcomePassed, "", 1, 40},
		{"B ran second, in another process", verdict.OutcomeFailed, "timed out", 1, 40},
		{"interrupted", verdict.OutcomeFailed, "interrupted", 0, 0},
		{"[AfterSuite]", verdict.OutcomeFailed, "", 0, 0},
		{"left out", verdict.OutcomeSkipped, "", 0, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("%d specs, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if (row{g.Name, g.Outcome, g.State, g.Verdicts.States(), g.Verdicts.Requests()}) != w {
			t.Errorf("spec %d: %+v, want %+v", i, row{g.Name, g.Outcome, g.State, g.Verdicts.States(), g.Verdicts.Requests()}, w)
		}
	}
	if got[1].Failure != "A node timeout occurred" || got[1].Runtime != time.Minute {
		t.Errorf("the timed-out spec lost its failure or time: %+v", got[1])
	}

	bad := types.SpecReports{{LeafNodeType: types.NodeTypeIt, LeafNodeText: "bad entry", State: types.SpecStatePassed,
		ReportEntries: types.ReportEntries{{Name: verdict.EntryName, Value: types.WrapEntryValue(map[string]any{"reports": []any{map[string]any{"outcome": "maybe"}}})}}}}
	got, errs = specRuns(bad)
	if len(got) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), `spec "bad entry"`) {
		t.Errorf("an unreadable entry: %+v, %v", got, errs)
	}
}

func TestSpecRunsFoldTheSpecsABeforeAllSkipped(t *testing.T) {
	skipped := func(container, text, msg string) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, ContainerHierarchyTexts: []string{container}, LeafNodeText: text,
			State: types.SpecStateSkipped, Failure: types.Failure{Message: msg}}
	}
	reports := types.SpecReports{
		skipped("Upgrading", "before it", "upgrade mode is off"),
		skipped("Upgrading", "moves cluster-1", verdict.SkippedInBeforeAll),
		skipped("Encryption", "uses WireGuard", "no WireGuard"),
		skipped("Upgrading", "moves cluster-2", verdict.SkippedInBeforeAll),
		// Skipped for a reason of its own: listed.
		skipped("Upgrading", "after it", "the label filter leaves it out"),
	}
	got, errs := specRuns(reports)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var rows []string
	for _, r := range got {
		rows = append(rows, fmt.Sprintf("%s +%d: %s", r.Name, r.Also, r.Failure))
	}
	want := []string{"Upgrading before it +2: upgrade mode is off", "Encryption uses WireGuard +0: no WireGuard",
		"Upgrading after it +0: the label filter leaves it out"}
	if !slices.Equal(rows, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if tot := (verdict.Run{Specs: got}).Totals(); tot.Specs != 5 || tot.Skipped != 5 {
		t.Errorf("totals %+v, want all 5 specs counted as skipped", tot)
	}
}

func TestOutcomeOfEveryGinkgoState(t *testing.T) {
	for _, s := range []types.SpecState{types.SpecStateInvalid, types.SpecStatePending, types.SpecStateSkipped, types.SpecStatePassed,
		types.SpecStateFailed, types.SpecStateAborted, types.SpecStatePanicked, types.SpecStateInterrupted, types.SpecStateTimedout} {
		o, word := outcomeOf(s)
		// Only a passed spec reads passed; every failure state reads failed.
		if (o == verdict.OutcomePassed) != (s == types.SpecStatePassed) || (o == verdict.OutcomeFailed) != (s.Is(types.SpecStateFailureStates) || s == types.SpecStateInvalid) {
			t.Errorf("%s -> %s", s, o)
		}
		if o == verdict.OutcomeFailed && s != types.SpecStateFailed && word == "" {
			t.Errorf("%s -> failed, without saying how", s)
		}
	}
}

func TestRunOfHeadsWithTheConfiguration(t *testing.T) {
	c := config.Config{CiliumVersion: "1.20.2", UpgradeFrom: "1.19.7", Provider: config.ProviderKind, KubernetesVersion: "v1.34.4",
		Clusters: []config.Cluster{{Name: "cluster-1"}, {Name: "cluster-2"}}}
	run, _ := runOf(types.Report{SuiteDescription: "ClusterMesh conformance", StartTime: time.Now().Add(-time.Minute)}, c, "global")
	var got []string
	for _, f := range run.Facts {
		got = append(got, f.Name+"="+f.Value)
	}
	if want := "Cilium=1.20.2 (upgraded from 1.19.7);clusters=cluster-1, cluster-2;provider=kind;Kubernetes=v1.34.4;label filter=global"; strings.Join(got, ";") != want {
		t.Errorf("facts: %s\nwant   %s", strings.Join(got, ";"), want)
	}
	if run.Title != "ClusterMesh conformance" || run.Runtime < time.Minute {
		t.Errorf("run: %q, %s", run.Title, run.Runtime)
	}
}

func TestRunOfSaysWhatTheFiltersLeftOut(t *testing.T) {
	spec := func(text string, labels []string, state types.SpecState, msg string) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, LeafNodeLabels: labels,
			State: state, Failure: types.Failure{Message: msg}}
	}
	r := types.Report{SuiteConfig: types.SuiteConfig{FocusStrings: []string{"answer", "cut"}}, SpecReports: types.SpecReports{
		spec("cut off", []string{"fault"}, types.SpecStateSkipped, ""),
		spec("routed", []string{"routing"}, types.SpecStateSkipped, ""),
		spec("answered", []string{"global"}, types.SpecStatePassed, ""),
		// Matches the filter and skipped for a reason of its own: kept.
		spec("wireguard", []string{"encryption"}, types.SpecStateSkipped, "no WireGuard"),
	}}
	run, _ := runOf(r, config.Config{}, "!fault")
	var got []string
	for _, s := range run.Specs {
		got = append(got, s.Name+": "+s.Failure)
	}
	want := []string{"answered: ", `cut off: the label filter "!fault" leaves it out`, `routed: the focus "answer", "cut" leaves it out`, "wireguard: no WireGuard"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
