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

// processBook is one process's file: whether a spec of it failed (process
// 1 collects the clusters' artifacts before teardown when any did), and its
// reports as verdict.Report.WriteJSON objects.
type processBook struct {
	Failed  bool              `json:"failed"`
	Reports []json.RawMessage `json:"reports"`
}

// saveProcessBook writes the process's book. An empty book is written too,
// so a stale file of an earlier run is never read as this run's.
func saveProcessBook(artifacts string, process int, failed bool, reports []verdict.Report) error {
	if err := os.MkdirAll(booksDir(artifacts), 0o755); err != nil {
		return fmt.Errorf("save process %d's book: %w", process, err)
	}
	book := processBook{Failed: failed, Reports: []json.RawMessage{}}
	for _, r := range reports {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			return err
		}
		book.Reports = append(book.Reports, json.RawMessage(b.Bytes()))
	}
	raw, err := json.Marshal(book)
	if err != nil {
		return fmt.Errorf("save process %d's book: %w", process, err)
	}
	if err := os.WriteFile(bookPath(artifacts, process), raw, 0o644); err != nil {
		return fmt.Errorf("save process %d's book: %w", process, err)
	}
	return nil
}

// loadProcessBooks reads the books of processes 1..n and returns every
// report, ordered by start time (the order they ran in, across processes),
// and whether any process had a failed spec. A missing book (a process that
// crashed) is an error and counts as a failure, but the others are still
// returned.
func loadProcessBooks(artifacts string, n int) ([]verdict.Report, bool, error) {
	var (
		out    []verdict.Report
		errs   []error
		failed bool
	)
	for p := 1; p <= max(n, 1); p++ {
		raw, err := os.ReadFile(bookPath(artifacts, p))
		var book processBook
		if err == nil {
			err = json.Unmarshal(raw, &book)
		}
		if err != nil {
			failed = true
			errs = append(errs, fmt.Errorf("load process %d's book: %w", p, err))
			continue
		}
		failed = failed || book.Failed
		for _, one := range book.Reports {
			r, err := verdict.ReadJSON(bytes.NewReader(one))
			if err != nil {
				errs = append(errs, fmt.Errorf("load process %d's book: %w", p, err))
				continue
			}
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, failed, errors.Join(errs...)
}
