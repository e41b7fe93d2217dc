package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// State is what the mesh must look like from each source: exactly the named
// clusters answer (every one of them, no other one) and no request fails.
type State struct {
	Name string
	// Expect maps a source cluster to the clusters that must answer it.
	Expect map[string][]string
}

// Sources are the state's source clusters, sorted.
func (s State) Sources() []string {
	out := make([]string, 0, len(s.Expect))
	for k := range s.Expect {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Everyone: every cluster answers every source.
func (e *Env) Everyone(name string) State {
	st := State{Name: name, Expect: map[string][]string{}}
	for _, c := range e.Names() {
		st.Expect[c] = e.Names()
	}
	return st
}

// Exactly checks one source's row: no failed request, only want answered,
// and every cluster of want answered (RequestsFor(MissBound, len(want))
// requests make a miss by luck at most MissBound likely, if backends were
// picked independently and equally; measured picks alternate, which only
// makes a miss less likely).
func Exactly(t *verdict.Tally, source string, want []string) error {
	if err := verdict.NoErrors(t, source); err != nil {
		return err
	}
	if err := verdict.OnlyAnsweredBy(t, source, want); err != nil {
		return err
	}
	return verdict.EveryExpectedAnswered(t, source, want)
}

// notJudged marks the informational reports of requests made while a change
// propagated.
const notJudged = " (requests while switching, not judged)"

// Switch is how long a change took to reach the datapath, seen from one
// source.
type Switch struct {
	Source string
	// First is the time from the change to the first answer of the
	// uninterrupted run of new-state answers that ended in the clean batch.
	First time.Duration
	// Clean is the time from the change to the end of the first batch that
	// was entirely in the new state.
	Clean time.Duration
}

// batches runs one batch from each source at once.
func (e *Env) batches(ctx context.Context, sources []string) (map[string]probe.Batch, error) {
	var (
		mu   sync.Mutex
		out  = map[string]probe.Batch{}
		errs []error
		wg   sync.WaitGroup
	)
	for _, s := range sources {
		wg.Go(func() {
			b, err := e.Batch(ctx, s, e.Requests)
			mu.Lock()
			defer mu.Unlock()
			out[s] = b
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// AwaitState probes from every source of st until each has had one clean
// batch in the state (Eventually, with timeout and the table's polling).
// With a non-zero since (the moment of the change), it measures per source
// how long the change took (Switch) and records it in the report. The
// report holds the clean batches, and for a source that never got there,
// its last batch.
func (e *Env) AwaitState(ctx context.Context, st State, since time.Time, timeout time.Duration) []Switch {
	r := e.Book.New(st.Name, e.Names()...)
	var (
		// switching counts every batch that was not yet clean: what clients
		// saw while the change propagated (old state, failures).
		switching = verdict.NewTally(e.Names()...)
		clean     = verdict.NewTally(e.Names()...)
		last      = map[string]*verdict.Tally{}
		streak    = map[string]time.Time{}
		switches  []Switch
		pending   = st.Sources()
	)
	poll := func(ctx context.Context) error {
		bs, err := e.batches(ctx, pending)
		if err != nil {
			return err
		}
		var failures []string
		for _, src := range slices.Clone(pending) {
			b, want := bs[src], st.Expect[src]
			for i, res := range b.Results {
				if res.Err == nil && slices.Contains(want, res.Cluster) {
					if streak[src].IsZero() {
						streak[src] = b.At(i)
					}
				} else {
					streak[src] = time.Time{}
				}
			}
			t := b.Tally(e.Names()...)
			if err := Exactly(t, src, want); err != nil {
				switching.Merge(t)
				last[src] = t
				failures = append(failures, err.Error())
				continue
			}
			clean.Merge(t)
			delete(last, src)
			pending = slices.DeleteFunc(pending, func(s string) bool { return s == src })
			if !since.IsZero() {
				sw := Switch{Source: src, First: streak[src].Sub(since), Clean: b.Finished.Sub(since)}
				switches = append(switches, sw)
				r.Timings = append(r.Timings,
					verdict.Timing{Name: "first answer in the new state", Source: src, Duration: sw.First},
					verdict.Timing{Name: "clean run in the new state", Source: src, Duration: sw.Clean})
			}
		}
		shown := verdict.NewTally(e.Names()...)
		shown.Merge(clean)
		for _, t := range last {
			shown.Merge(t)
		}
		r.Tally, r.Duration = shown, time.Since(r.Started)
		if len(failures) > 0 {
			r.Failure = strings.Join(failures, "\n")
			return fmt.Errorf("state %q not reached from %s:\n%s", st.Name, strings.Join(pending, ", "), r.Failure)
		}
		r.Failure = ""
		return nil
	}
	Eventually(ctx, poll).WithTimeout(timeout).WithPolling(e.Intervals().Poll).Should(Succeed(), "state %q", st.Name)
	r.Passed = true
	if switching.Total() > 0 {
		// For the record, not a verdict: the requests before the clean batch.
		sr := e.Book.New(st.Name+notJudged, e.Names()...)
		sr.Tally, sr.Informational, sr.Duration = switching, true, r.Duration
	}
	for _, sw := range switches {
		e.Logf(sw.Source, "%s: first answer after %s, clean run after %s", st.Name, sw.First.Round(time.Millisecond), sw.Clean.Round(time.Millisecond))
	}
	return switches
}

// HoldState checks that st holds for the whole duration d (Consistently,
// polling at the table's period), each poll a batch from every source; at
// the end every source must have sent at least minRequests requests and
// been answered by every cluster st expects.
func (e *Env) HoldState(ctx context.Context, st State, d time.Duration, minRequests int) {
	r := e.Book.New(fmt.Sprintf("holds for %s: %s", d, st.Name), e.Names()...)
	poll := func(ctx context.Context) error {
		bs, err := e.batches(ctx, st.Sources())
		if err != nil {
			return err
		}
		var failures []string
		for _, src := range st.Sources() {
			t := bs[src].Tally(e.Names()...)
			r.Tally.Merge(t)
			if err := verdict.NoErrors(t, src); err != nil {
				failures = append(failures, err.Error())
			} else if err := verdict.OnlyAnsweredBy(t, src, st.Expect[src]); err != nil {
				failures = append(failures, err.Error())
			}
		}
		r.Duration = time.Since(r.Started)
		if len(failures) > 0 {
			r.Failure = strings.Join(failures, "\n")
			return errors.New(r.Failure)
		}
		return nil
	}
	Consistently(ctx, poll).WithTimeout(d).WithPolling(e.Intervals().Poll).Should(Succeed(), "state %q must hold for %s", st.Name, d)
	// The stated count is a floor, not a hope: top up with further checked
	// batches when the duration did not fit enough of them.
	for _, src := range st.Sources() {
		for r.Tally.Requests(src) < minRequests {
			Expect(poll(ctx)).To(Succeed(), "state %q must hold for %d requests", st.Name, minRequests)
		}
	}
	for _, src := range st.Sources() {
		if err := verdict.EveryExpectedAnswered(r.Tally, src, st.Expect[src]); err != nil {
			r.Failure = err.Error()
		}
		Expect(r.Failure).To(BeEmpty())
	}
	r.Passed = true
}
