package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

// Process 1 learns that a spec failed in another process, and a process
// that never wrote its status counts as failed.
func TestAnyProcessFailed(t *testing.T) {
	dir := t.TempDir()
	for p, failed := range map[int]bool{1: false, 2: true, 3: false} {
		if err := saveProcessStatus(dir, p, failed); err != nil {
			t.Fatal(err)
		}
	}
	if failed, err := anyProcessFailed(dir, 3); err != nil || !failed {
		t.Fatalf("process 2 failed: got failed=%v, err %v", failed, err)
	}
	if err := saveProcessStatus(dir, 2, false); err != nil {
		t.Fatal(err)
	}
	if failed, err := anyProcessFailed(dir, 3); err != nil || failed {
		t.Fatalf("nothing failed: got failed=%v, err %v", failed, err)
	}
	if err := os.Remove(statusPath(dir, 3)); err != nil {
		t.Fatal(err)
	}
	failed, err := anyProcessFailed(dir, 3)
	if err == nil || !strings.Contains(err.Error(), "process 3") || !failed {
		t.Fatalf("missing status: failed=%v, err %v; want a failure naming process 3", failed, err)
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
