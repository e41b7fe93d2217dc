package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// report builds a Ginkgo JSON report as the CLI writes it.
func report(t *testing.T, specs ...types.SpecReport) []byte {
	t.Helper()
	raw, err := json.Marshal([]types.Report{{SuiteDescription: "ClusterMesh conformance", SpecReports: specs}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func spec(text string, node types.NodeType, state types.SpecState, proc int, start, took time.Duration) types.SpecReport {
	return types.SpecReport{ContainerHierarchyTexts: []string{"A global service"}, LeafNodeText: text, LeafNodeType: node,
		State: state, ParallelProcess: proc, StartTime: t0.Add(start), EndTime: t0.Add(start + took), RunTime: took}
}

func TestParse(t *testing.T) {
	raw := report(t,
		// The suite setup is not part of the spec phase.
		spec("", types.NodeTypeSynchronizedBeforeSuite, types.SpecStatePassed, 1, 0, 3*time.Minute),
		spec("one", types.NodeTypeIt, types.SpecStatePassed, 1, 3*time.Minute, 20*time.Second),
		spec("two", types.NodeTypeIt, types.SpecStateFailed, 2, 3*time.Minute+time.Second, 40*time.Second),
		spec("three", types.NodeTypeIt, types.SpecStatePassed, 1, 3*time.Minute+20*time.Second, 10*time.Second),
		spec("upgrade", types.NodeTypeIt, types.SpecStateSkipped, 1, 0, 0),
		spec("", types.NodeTypeSynchronizedAfterSuite, types.SpecStatePassed, 1, 4*time.Minute, time.Minute),
	)
	r, err := Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Specs) != 3 || r.Failed != 1 || r.Procs != 2 {
		t.Errorf("specs %v, failed %d, procs %d", r.Specs, r.Failed, r.Procs)
	}
	// From "one"'s start (3m) to "two"'s end (3m41s).
	if r.Phase != 41*time.Second || r.Sum != 70*time.Second {
		t.Errorf("phase %s, sum %s; want 41s, 1m10s", r.Phase, r.Sum)
	}
	if r.Specs["A global service two"] != 40*time.Second {
		t.Errorf("spec times %v", r.Specs)
	}
}

func TestParseRefusesAnEmptyRun(t *testing.T) {
	if _, err := Parse(bytes.NewReader(report(t, spec("x", types.NodeTypeIt, types.SpecStateSkipped, 1, 0, 0)))); err == nil || !strings.Contains(err.Error(), "no spec ran") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Parse(strings.NewReader("{")); err == nil {
		t.Fatal("a broken report parsed")
	}
}

func TestWrite(t *testing.T) {
	serial := Run{Specs: map[string]time.Duration{"a": 60 * time.Second, "b": 40 * time.Second}, Phase: 100 * time.Second, Sum: 100 * time.Second, Procs: 1}
	parallel := Run{Specs: map[string]time.Duration{"a": 62 * time.Second, "c": time.Second}, Phase: 40 * time.Second, Sum: 63 * time.Second, Procs: 3}
	var b strings.Builder
	if err := Write(&b, serial, parallel); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"parallel / serial spec phase: 0.40 (40 %)",
		"serial    1          2      0       1m40s",
		"parallel  3          2      0       40s",
		"only parallel: c; only serial: b",
		"a     1m0s    1m2s",
		"b     40s     -",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
