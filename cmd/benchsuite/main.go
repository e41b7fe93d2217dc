// Command benchsuite compares two Ginkgo JSON reports of the same spec set,
// one run with one process and one with several (make bench-suite): it
// prints each run's spec phase (first spec started to last spec ended,
// across processes), their ratio, and every spec's time in both runs.
//
//	benchsuite [-procs N] serial/report.json parallel/report.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	procs := flag.Int("procs", 0, "the parallel run's process count, for the table (0: read from the report)")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchsuite [-procs N] serial-report.json parallel-report.json")
		os.Exit(2)
	}
	serial, err := load(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parallel, err := load(flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *procs > 0 {
		parallel.Procs = *procs
	}
	if err := Write(os.Stdout, serial, parallel); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// Run is what one report says about its spec phase.
type Run struct {
	// Specs are the specs that ran (not skipped, not pending), by full text.
	Specs map[string]time.Duration
	// Failed counts the specs that did not pass.
	Failed int
	// Phase is from the first spec's start to the last spec's end.
	Phase time.Duration
	// Sum is the specs' times added up (what one process would take).
	Sum time.Duration
	// Procs is the highest parallel process a spec ran on.
	Procs int
}

func load(path string) (Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return Run{}, fmt.Errorf("read ginkgo report: %w", err)
	}
	defer f.Close()
	r, err := Parse(f)
	if err != nil {
		return Run{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Parse reads a Ginkgo JSON report (--json-report: an array of suite
// reports) and measures its spec phase: It nodes only, so the suite setup
// (bring-up, deploy, gate) and teardown are left out.
func Parse(rd io.Reader) (Run, error) {
	var reports []types.Report
	if err := json.NewDecoder(rd).Decode(&reports); err != nil {
		return Run{}, fmt.Errorf("decode ginkgo json report: %w", err)
	}
	run := Run{Specs: map[string]time.Duration{}}
	var first, last time.Time
	for _, rep := range reports {
		for _, s := range rep.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt || s.State.Is(types.SpecStateSkipped|types.SpecStatePending) {
				continue
			}
			if s.StartTime.IsZero() || s.EndTime.IsZero() {
				continue
			}
			run.Specs[s.FullText()] += s.RunTime
			run.Sum += s.RunTime
			if !s.State.Is(types.SpecStatePassed) {
				run.Failed++
			}
			if first.IsZero() || s.StartTime.Before(first) {
				first = s.StartTime
			}
			if s.EndTime.After(last) {
				last = s.EndTime
			}
			run.Procs = max(run.Procs, s.ParallelProcess)
		}
	}
	if len(run.Specs) == 0 {
		return run, fmt.Errorf("no spec ran")
	}
	run.Phase = last.Sub(first)
	return run, nil
}

// Write prints both runs' spec phases, their ratio, and every spec's time.
func Write(w io.Writer, serial, parallel Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tprocesses\tspecs\tfailed\tspec phase\tsum of spec times")
	for _, r := range []struct {
		name string
		run  Run
	}{{"serial", serial}, {"parallel", parallel}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", r.name, max(r.run.Procs, 1), len(r.run.Specs), r.run.Failed,
			round(r.run.Phase), round(r.run.Sum))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if serial.Phase > 0 {
		fmt.Fprintf(w, "parallel / serial spec phase: %.2f (%.0f %%)\n", parallel.Phase.Seconds()/serial.Phase.Seconds(),
			100*parallel.Phase.Seconds()/serial.Phase.Seconds())
	}
	if missing := differ(serial, parallel); missing != "" {
		fmt.Fprintf(w, "the runs differ: %s\n", missing)
	}
	names := make([]string, 0, len(serial.Specs))
	for n := range serial.Specs {
		names = append(names, n)
	}
	for n := range parallel.Specs {
		if _, ok := serial.Specs[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "spec\tserial\tparallel")
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n, cell(serial.Specs, n), cell(parallel.Specs, n))
	}
	return tw.Flush()
}

func cell(m map[string]time.Duration, name string) string {
	d, ok := m[name]
	if !ok {
		return "-"
	}
	return round(d).String()
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// differ names the specs only one run ran: then the ratio compares unlike
// sets.
func differ(a, b Run) string {
	var out []string
	for n := range a.Specs {
		if _, ok := b.Specs[n]; !ok {
			out = append(out, "only serial: "+n)
		}
	}
	for n := range b.Specs {
		if _, ok := a.Specs[n]; !ok {
			out = append(out, "only parallel: "+n)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
