package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// The end of a run: Ginkgo's report of every spec, turned into the
// summary's values. Ginkgo gives the outcome and run time of every spec,
// whichever process ran it; each spec's verdict reports travel in its own
// report as an entry (verdict.EntryName), because the Book is per process.

// runOf is the run as the summary and report.html show it.
func runOf(r types.Report, c config.Config, labelFilter string) (verdict.Run, []error) {
	specs, errs := specRuns(r.SpecReports)
	specs = withFilterReason(specs, r.SpecReports, labelFilter, r.SuiteConfig.FocusStrings)
	run := verdict.Run{Title: r.SuiteDescription, Started: r.StartTime, Runtime: r.RunTime, Facts: facts(c, labelFilter), Specs: specs}
	if run.Runtime == 0 && !r.StartTime.IsZero() {
		// The suite's end is written after its last report node.
		run.Runtime = time.Since(r.StartTime)
	}
	return run, errs
}

// facts head the report: what was tested, on what.
func facts(c config.Config, labelFilter string) []verdict.Fact {
	cilium := c.CiliumVersion
	if c.UpgradeFrom != "" {
		cilium = fmt.Sprintf("%s (upgraded from %s)", c.CiliumVersion, c.UpgradeFrom)
	}
	names := make([]string, len(c.Clusters))
	for i, cl := range c.Clusters {
		names[i] = cl.Name
	}
	fs := []verdict.Fact{{Name: "Cilium", Value: cilium}, {Name: "clusters", Value: strings.Join(names, ", ")},
		{Name: "provider", Value: string(c.Provider)}}
	if c.Provider == config.ProviderKind && c.KubernetesVersion != "" {
		fs = append(fs, verdict.Fact{Name: "Kubernetes", Value: c.KubernetesVersion})
	}
	if c.ImageSource != "" {
		fs = append(fs, verdict.Fact{Name: "images", Value: string(c.ImageSource)})
	}
	if labelFilter != "" {
		fs = append(fs, verdict.Fact{Name: "label filter", Value: labelFilter})
	}
	return fs
}

// specRuns are the specs (It nodes) and every suite-level node that failed:
// a bring-up that failed is what the run has to say. A spec whose verdict
// entry cannot be read still counts, without its numbers; the error is
// returned to be logged.
//
// The specs an Ordered container's BeforeAll skipped (the upgrade flow with
// upgrade mode off) are folded into the first, which carries the reason:
// one row "... (and 19 more specs of it, skipped with it)" instead of
// twenty, counted as twenty.
func specRuns(reports types.SpecReports) ([]verdict.SpecRun, []error) {
	var out []verdict.SpecRun
	var errs []error
	skippedFirst := map[string]int{} // container -> index in out of its first skipped spec
	for _, s := range reports {
		isSpec := s.LeafNodeType == types.NodeTypeIt
		if !isSpec && !s.Failed() {
			continue
		}
		container := strings.Join(s.ContainerHierarchyTexts, "\x00")
		if isSpec && s.State == types.SpecStateSkipped {
			if i, ok := skippedFirst[container]; ok && s.Failure.Message == verdict.SkippedInBeforeAll {
				out[i].Also++
				continue
			}
			if _, ok := skippedFirst[container]; !ok {
				skippedFirst[container] = len(out)
			}
		}
		run := verdict.SpecRun{Name: s.FullText(), Started: s.StartTime, Runtime: s.RunTime, Failure: s.Failure.Message}
		if !isSpec {
			run.Name = strings.TrimSpace(fmt.Sprintf("[%s] %s", s.LeafNodeType, s.LeafNodeText))
		}
		run.Outcome, run.State = outcomeOf(s.State)
		v, err := specVerdicts(s.ReportEntries)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec %q: %w", run.Name, err))
		}
		run.Verdicts = v
		out = append(out, run)
	}
	return verdict.Ordered(out), errs
}

// withFilterReason gives the specs this run's label filter or focus left
// out their reason: Ginkgo skips them without a word.
func withFilterReason(specs []verdict.SpecRun, reports types.SpecReports, labelFilter string, focus []string) []verdict.SpecRun {
	match := func([]string) bool { return true }
	if labelFilter != "" {
		if m, err := types.ParseLabelFilter(labelFilter); err == nil {
			match = m
		}
	}
	var focused []*regexp.Regexp
	for _, f := range focus {
		if re, err := regexp.Compile(f); err == nil {
			focused = append(focused, re)
		}
	}
	reason := map[string]string{}
	for _, s := range reports {
		if s.LeafNodeType != types.NodeTypeIt || s.State != types.SpecStateSkipped || s.Failure.Message != "" {
			continue
		}
		switch {
		case !match(s.Labels()):
			reason[s.FullText()] = fmt.Sprintf("the label filter %q leaves it out", labelFilter)
		case len(focused) > 0 && !slices.ContainsFunc(focused, func(re *regexp.Regexp) bool { return re.MatchString(s.FullText()) }):
			quoted := make([]string, len(focus))
			for i, f := range focus {
				quoted[i] = strconv.Quote(f)
			}
			reason[s.FullText()] = fmt.Sprintf("the focus %s leaves it out", strings.Join(quoted, ", "))
		}
	}
	for i := range specs {
		if why, ok := reason[specs[i].Name]; ok {
			specs[i].Failure = why
		}
	}
	return specs
}

// outcomeOf maps Ginkgo's state onto the summary's outcome, keeping
// Ginkgo's word where it says how a spec failed.
func outcomeOf(s types.SpecState) (verdict.Outcome, string) {
	switch s {
	case types.SpecStatePassed:
		return verdict.OutcomePassed, ""
	case types.SpecStateSkipped:
		return verdict.OutcomeSkipped, ""
	case types.SpecStatePending:
		return verdict.OutcomePending, ""
	case types.SpecStateFailed:
		return verdict.OutcomeFailed, ""
	case types.SpecStateTimedout:
		return verdict.OutcomeFailed, "timed out"
	case types.SpecStateInvalid:
		return verdict.OutcomeFailed, "invalid"
	}
	// aborted, panicked, interrupted
	return verdict.OutcomeFailed, s.String()
}

// specVerdicts reads the spec's verdict entry. In the process that ran the
// spec the entry holds the value itself; from another process it holds
// what JSON decoding made of it: both marshal to the same JSON.
func specVerdicts(entries types.ReportEntries) (verdict.SpecVerdicts, error) {
	var all verdict.SpecVerdicts
	for _, e := range entries {
		if e.Name != verdict.EntryName {
			continue
		}
		raw, err := json.Marshal(e.GetRawValue())
		if err != nil {
			return all, fmt.Errorf("read %q entry: %w", e.Name, err)
		}
		v, err := verdict.DecodeSpecVerdicts(raw)
		if err != nil {
			return all, fmt.Errorf("read %q entry: %w", e.Name, err)
		}
		all.Reports = append(all.Reports, v.Reports...)
	}
	return all, nil
}
