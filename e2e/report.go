package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// ReportBook keeps every verdict report of the run, grouped by spec, so that
// each spec's matrices can be printed and saved after it, and the whole run
// drawn at the end.
type ReportBook struct {
	mu      sync.Mutex
	reports []*verdict.Report
	spec    string
	current []*verdict.Report
}

// Begin starts a spec's group of reports.
func (b *ReportBook) Begin(spec string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spec, b.current = spec, nil
}

// New adds a report named "<spec> :: <check>" to the current spec. It starts
// failed: a check that never reaches its end (a failed Eventually) leaves it
// that way, with the last tally and failure it saw.
func (b *ReportBook) New(check string, clusters ...string) *verdict.Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := &verdict.Report{Spec: b.spec + " :: " + check, Tally: verdict.NewTally(clusters...), Started: time.Now()}
	b.reports = append(b.reports, r)
	b.current = append(b.current, r)
	return r
}

// Current returns the current spec's reports.
func (b *ReportBook) Current() []*verdict.Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*verdict.Report(nil), b.current...)
}

// All returns every report of the run.
func (b *ReportBook) All() []verdict.Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]verdict.Report, len(b.reports))
	for i, r := range b.reports {
		out[i] = *r
	}
	return out
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Slug turns a spec's text into a file name.
func Slug(s string) string {
	s = strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// Text renders reports as the matrices a person reads in the log.
func Text(reports []*verdict.Report) string {
	var b strings.Builder
	for _, r := range reports {
		outcome := "PASSED"
		if !r.Passed {
			outcome = "FAILED"
		}
		fmt.Fprintf(&b, "--- %s: %s (%d requests, %s)\n%s", r.Spec, outcome, r.Tally.Total(), r.Duration.Round(time.Millisecond), r.Tally.Matrix())
		for _, t := range r.Timings {
			src := ""
			if t.Source != "" {
				src = "[" + t.Source + "] "
			}
			fmt.Fprintf(&b, "    %s%s: %s\n", src, t.Name, t.Duration.Round(time.Millisecond))
		}
	}
	return b.String()
}

// Save writes reports as <dir>/<name>.json (an array) and <dir>/<name>.md.
func Save(dir, name string, reports []*verdict.Report) error {
	if len(reports) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save reports: %w", err)
	}
	var js []json.RawMessage
	var md bytes.Buffer
	for _, r := range reports {
		var one bytes.Buffer
		if err := r.WriteJSON(&one); err != nil {
			return err
		}
		js = append(js, json.RawMessage(one.Bytes()))
		if err := r.WriteMarkdown(&md); err != nil {
			return err
		}
		md.WriteString("\n")
	}
	raw, err := json.MarshalIndent(js, "", "  ")
	if err != nil {
		return fmt.Errorf("save reports %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("save reports: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".md"), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save reports: %w", err)
	}
	return nil
}

// SaveRun writes the picture and the summary of the whole run.
func SaveRun(dir string, reports []verdict.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save run: %w", err)
	}
	var svg, md bytes.Buffer
	if err := verdict.WriteSVG(&svg, reports); err != nil {
		return err
	}
	if err := verdict.WriteSummaryMarkdown(&md, reports); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "run.svg"), svg.Bytes(), 0o644); err != nil {
		return fmt.Errorf("save run: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "summary.md"), md.Bytes(), 0o644)
}
