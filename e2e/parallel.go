package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/onsi/ginkgo/v2"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

// oneProcessForUpgrade refuses upgrade mode with parallel processes: Ginkgo
// runs Serial specs after every parallel one, so the other specs would run
// on the old version and the upgrade last.
func oneProcessForUpgrade(c config.Config, n int) error {
	if c.UpgradeFrom != "" && n > 1 {
		return fmt.Errorf("UPGRADE_FROM=%s needs the upgrade to run before every other spec, but %d parallel processes run it last: run with GINKGO_PROCS=1 (make e2e-upgrade does)", c.UpgradeFrom, n)
	}
	return nil
}

func ginkgoProcs() int {
	sc, _ := ginkgo.GinkgoConfiguration()
	return sc.ParallelTotal
}

// The run's reports reach process 1 through Ginkgo's own spec reports
// (ReportAfterSuite); what it still needs from the other processes before
// its teardown is whether any of their specs failed (then it collects the
// clusters' artifacts first). Each process leaves one small file saying so.

func statusPath(artifacts string, process int) string {
	return filepath.Join(artifacts, "processes", fmt.Sprintf("process-%d.json", process))
}

type processStatus struct {
	Failed bool `json:"failed"`
}

// saveProcessStatus writes whether a spec of this process failed. A process
// with nothing failed writes its file too, so a stale file of an earlier
// run is never read as this run's.
func saveProcessStatus(artifacts string, process int, failed bool) error {
	path := statusPath(artifacts, process)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("save process %d's status: %w", process, err)
	}
	raw, err := json.Marshal(processStatus{Failed: failed})
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("save process %d's status: %w", process, err)
	}
	return nil
}

// anyProcessFailed reads the files of processes 1..n. A missing file (a
// process that crashed) is an error and counts as a failure.
func anyProcessFailed(artifacts string, n int) (bool, error) {
	var (
		errs   []error
		failed bool
	)
	for p := 1; p <= max(n, 1); p++ {
		raw, err := os.ReadFile(statusPath(artifacts, p))
		var st processStatus
		if err == nil {
			err = json.Unmarshal(raw, &st)
		}
		if err != nil {
			failed = true
			errs = append(errs, fmt.Errorf("load process %d's status: %w", p, err))
			continue
		}
		failed = failed || st.Failed
	}
	return failed, errors.Join(errs...)
}
