package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/onsi/ginkgo/v2"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
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

// booksDir holds one file per parallel process: its verdict reports.
func booksDir(artifacts string) string { return filepath.Join(artifacts, "books") }

func bookPath(artifacts string, process int) string {
	return filepath.Join(booksDir(artifacts), fmt.Sprintf("process-%d.json", process))
}

// saveProcessBook writes the process's reports as a JSON array of
// verdict.Report.WriteJSON objects. An empty book is written too, so a
// stale file of an earlier run is never read as this run's.
func saveProcessBook(artifacts string, process int, reports []verdict.Report) error {
	if err := os.MkdirAll(booksDir(artifacts), 0o755); err != nil {
		return fmt.Errorf("save process %d's book: %w", process, err)
	}
	js := []json.RawMessage{}
	for _, r := range reports {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			return err
		}
		js = append(js, json.RawMessage(b.Bytes()))
	}
	raw, err := json.Marshal(js)
	if err != nil {
		return fmt.Errorf("save process %d's book: %w", process, err)
	}
	if err := os.WriteFile(bookPath(artifacts, process), raw, 0o644); err != nil {
		return fmt.Errorf("save process %d's book: %w", process, err)
	}
	return nil
}

// loadProcessBooks reads the books of processes 1..n and returns every
// report, ordered by start time (the order they ran in, across processes).
// A missing book (a process that crashed) is an error, but the others are
// still returned.
func loadProcessBooks(artifacts string, n int) ([]verdict.Report, error) {
	var (
		out  []verdict.Report
		errs []error
	)
	for p := 1; p <= max(n, 1); p++ {
		raw, err := os.ReadFile(bookPath(artifacts, p))
		if err != nil {
			errs = append(errs, fmt.Errorf("load process %d's book: %w", p, err))
			continue
		}
		var js []json.RawMessage
		if err := json.Unmarshal(raw, &js); err != nil {
			errs = append(errs, fmt.Errorf("load process %d's book: %w", p, err))
			continue
		}
		for _, one := range js {
			r, err := verdict.ReadJSON(bytes.NewReader(one))
			if err != nil {
				errs = append(errs, fmt.Errorf("load process %d's book: %w", p, err))
				continue
			}
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, errors.Join(errs...)
}
