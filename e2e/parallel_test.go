package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// Each process's book survives the others, and the run's picture is drawn
// from all of them in the order the specs started.
func TestProcessBooksGatherEveryProcess(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	report := func(spec string, at time.Time) verdict.Report {
		ta := verdict.NewTally("cluster-1", "cluster-2")
		ta.Add("cluster-1", "cluster-2")
		r := verdict.Report{Spec: spec, Started: at, Tally: ta}
		r.SetVerdict(nil)
		return r
	}
	if err := saveProcessBook(dir, 1, false, []verdict.Report{report("late", t0.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if err := saveProcessBook(dir, 2, true, []verdict.Report{report("early", t0)}); err != nil {
		t.Fatal(err)
	}
	if err := saveProcessBook(dir, 3, false, nil); err != nil {
		t.Fatal(err)
	}
	got, failed, err := loadProcessBooks(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("process 2 had a failed spec, but the gathered books say none failed")
	}
	if len(got) != 2 || got[0].Spec != "early" || got[1].Spec != "late" || !got[0].Passed || got[0].Tally.Count("cluster-1", "cluster-2") != 1 {
		t.Fatalf("gathered %+v", got)
	}
	// A process that never saved its book is named; the others still count.
	if err := os.Remove(bookPath(dir, 3)); err != nil {
		t.Fatal(err)
	}
	if err := saveProcessBook(dir, 2, false, []verdict.Report{report("early", t0)}); err != nil {
		t.Fatal(err)
	}
	got, failed, err = loadProcessBooks(dir, 3)
	if err == nil || !strings.Contains(err.Error(), "process 3") || len(got) != 2 || !failed {
		t.Fatalf("missing book: %d reports, failed %v, err %v; want 2, a failure, and process 3 named", len(got), failed, err)
	}
}

func TestUpgradeNeedsOneProcess(t *testing.T) {
	c := config.Default()
	c.UpgradeFrom = ""
	if err := oneProcessForUpgrade(c, 3); err != nil {
		t.Fatalf("no upgrade, 3 processes: %v", err)
	}
	c.UpgradeFrom = "1.19.7"
	if err := oneProcessForUpgrade(c, 1); err != nil {
		t.Fatalf("upgrade, one process: %v", err)
	}
	if err := oneProcessForUpgrade(c, 3); err == nil || !strings.Contains(err.Error(), "GINKGO_PROCS=1") {
		t.Fatalf("upgrade, 3 processes: err = %v", err)
	}
}
