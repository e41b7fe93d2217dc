package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/hubble"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// HubbleSpec: what each cluster's hubble-relay reports of the spec's
// requests. In a ClusterMesh a relay reaches the nodes of every cluster,
// so each relay must show the whole mesh. With no policy, every pair of
// clusters shows forwarded request flows, observed on the source's node and
// on the destination's, each endpoint named by its own cluster; with a
// policy on the first cluster's backend that admits the second cluster
// only, the first and third clusters' requests to it are DROPPED flows with
// a policy drop reason, observed on the first cluster's node, and the
// second's are forwarded. A relay that is not ready fails the spec with its
// status.
func HubbleSpec(input func() SpecInput) {
	It("reports the requests in every cluster's Hubble relay with their clusters' names, and a policy's denials as policy drops", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		names := e.Names()
		pc := e.startPolicyCase(ctx)
		policed, allowed, reach, rp := pc.policed, pc.allowed, pc.reach, pc.probes

		By("every cluster's Hubble relay is ready (it reaches every node of the mesh)")
		relays := e.awaitRelays(ctx)
		By("following every relay's flows between the clients and " + e.Service.Backend.Name)
		start := time.Now()
		cols := map[string]*hubble.Collector{}
		for _, c := range names {
			col, err := relays[c].Follow(ctx, start, hubble.ProbeFilters(e.Config.Namespace,
				map[string]string{"app": workload.Client}, map[string]string{"app": e.Service.Backend.Name}))
			Expect(err).NotTo(HaveOccurred())
			cols[c] = col
			DeferCleanup(func() { _ = col.Stop() })
		}

		By("no policy: every client reaches every backend, through the service and by pod IP")
		rp.await(ctx, "no policy, observed by Hubble", check.Open, time.Time{}, iv.BackendsSynced)

		applied := pc.apply(ctx, e)
		By(fmt.Sprintf("every client to %s's backend by pod IP", policed))
		rp.awaitOn(ctx, []string{policed}, fmt.Sprintf("%s admits %s only, observed by Hubble", policed, allowed), reach, applied, iv.BackendsSynced)
		_, err := e.policyClient(policed).Delete(ctx, e.Config.Namespace, pc.admit.Name)
		Expect(err).NotTo(HaveOccurred())
		removed := time.Now()

		By("reading the request flows every relay reported")
		port := uint32(workload.ParamsFor(e.Config)(e.Clusters[0]).ContainerPort)
		open, policy := e.openFlows(), e.policyFlows(reach, policed)
		var flows []hubble.Flow
		err = kube.Poll(ctx, iv.AnnotationSwitch, iv.Poll, func(context.Context) error {
			var errs []error
			flows = nil
			for _, c := range names {
				f, err := cols[c].Flows()
				flows = append(flows, f...)
				errs = append(errs, err)
			}
			requests := hubble.Requests(flows, port)
			errs = append(errs,
				wrapPhase("no policy", open.Check(hubble.Between(requests, start, applied))),
				wrapPhase("policy on "+policed, policy.Check(hubble.Between(requests, applied, removed))),
				wrapPhase("every flow (replies too)", hubble.Expectation{Ranges: open.Ranges}.Check(flows)))
			return errors.Join(errs...)
		})
		seen := hubble.Count(hubble.Requests(flows, port))
		for _, c := range names {
			r := e.Book.New("request flows in "+c+"'s hubble relay (cluster_name of source x destination; drops by reason)", names...)
			r.Tally, r.Informational, r.Duration = seen.Tally(c, names), true, time.Since(start)
		}
		e.Logf("", "request flows by relay:\n%s", seen.Table())
		Expect(err).NotTo(HaveOccurred())
	})
}

func wrapPhase(phase string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", phase, err)
}

// awaitRelays waits for every cluster's relay; they are closed when the
// spec ends.
func (e *Env) awaitRelays(ctx context.Context) map[string]*hubble.Relay {
	var (
		mu     sync.Mutex
		relays = map[string]*hubble.Relay{}
		errs   []error
		wg     sync.WaitGroup
	)
	// Hubble's peers in a ClusterMesh are the nodes of every cluster: each
	// relay must reach all of them.
	nodes := 0
	for _, names := range e.nodes(ctx) {
		nodes += len(names)
	}
	for _, h := range e.Handles {
		wg.Go(func() {
			r, err := hubble.AwaitRelay(ctx, hubble.AwaitInput{ConnectInput: hubble.ConnectInput{Cluster: h.Name, Client: h.Client,
				Forwarder: hubble.PortForwarder{REST: h.REST, Client: h.Client}, Log: e.Log},
				Nodes: nodes, Timeout: e.Intervals().WorkloadReady, Poll: e.Intervals().Poll})
			mu.Lock()
			defer mu.Unlock()
			relays[h.Name] = r
			errs = append(errs, err)
		})
	}
	wg.Wait()
	DeferCleanup(func() {
		for _, r := range relays {
			_ = r.Close()
		}
	})
	ExpectWithOffset(1, errors.Join(errs...)).NotTo(HaveOccurred())
	return relays
}

func (e *Env) ranges() hubble.Ranges {
	r := hubble.Ranges{}
	for _, c := range e.Config.Clusters {
		r[c.Name] = c.PodCIDR
	}
	return r
}

// openFlows: every relay (each sees the whole mesh) shows every pair of
// clusters forwarded, observed on the source's node and on the
// destination's, and nothing dropped.
func (e *Env) openFlows() hubble.Expectation {
	x := hubble.Expectation{Ranges: e.ranges()}
	for _, relay := range e.Names() {
		for _, src := range e.Names() {
			for _, dst := range e.Names() {
				for _, at := range slices.Compact([]string{src, dst}) {
					x.Forwarded = append(x.Forwarded, hubble.Pair{Relay: relay, At: at, From: src, To: dst})
				}
				x.NotDropped = append(x.NotDropped, hubble.Pair{Relay: relay, From: src, To: dst})
			}
		}
	}
	return x
}

// policyFlows: in every relay, the denied sources' requests to the policed
// backend dropped for a policy reason on the policed cluster's node (where
// ingress policy is enforced), the others forwarded there and never
// dropped.
func (e *Env) policyFlows(reach check.Reach, policed string) hubble.Expectation {
	x := hubble.Expectation{Ranges: e.ranges()}
	denied := reach.Denied(e.Names(), policed)
	for _, relay := range e.Names() {
		for _, src := range e.Names() {
			p := hubble.Pair{Relay: relay, At: policed, From: src, To: policed}
			if slices.Contains(denied, src) {
				x.PolicyDropped = append(x.PolicyDropped, p)
				continue
			}
			x.Forwarded = append(x.Forwarded, p)
			p.At = ""
			x.NotDropped = append(x.NotDropped, p)
		}
	}
	return x
}

// nodes are the names of every cluster's nodes, by cluster.
func (e *Env) nodes(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	for _, h := range e.Handles {
		list, err := h.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "[%s] list nodes", h.Name)
		for _, n := range list.Items {
			out[h.Name] = append(out[h.Name], n.Name)
		}
	}
	return out
}
