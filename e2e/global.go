package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// HoldRequests is the least number of requests per source a "never answered
// by" check sends over Intervals.Consistently (topped up if the duration did
// not fit them). If the excluded cluster were wrongly selectable as one of
// three equal backends, 120 requests would all miss it with probability
// (2/3)^120 < 1e-21; as one of two, 2^-120.
const HoldRequests = 120

// GlobalServiceSpec: every cluster answers every source.
func GlobalServiceSpec(input func() SpecInput) {
	It("is answered by every cluster, from every cluster", func(ctx SpecContext) {
		e := input().Env
		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)
		st := e.Everyone("global: every cluster answers every source")
		if e.Invert {
			// The self-check: a deliberately wrong expectation that must fail
			// with the matrix in its message.
			for _, src := range e.Names() {
				st.Expect[src] = []string{src}
			}
			st.Name = "INVERTED (E2E_INVERT=1, must fail): only local answers"
		}
		timeout := e.Intervals().BackendsSynced
		if e.Invert {
			timeout = e.Intervals().Consistently
		}
		By("probing the global service from every cluster")
		e.AwaitState(ctx, st, time.Time{}, timeout)
	})
}

// SharedSpec: cluster-1 stops sharing its backends.
func SharedSpec(input func() SpecInput) {
	It("is never answered by the first cluster from the others once it stops sharing, and its own client still gets every cluster", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		first := e.Names()[0]
		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)

		By("[" + first + "] annotating the service shared=false")
		Expect(workload.SetShared(ctx, e.Cluster(first), e.Config.Namespace, e.Service.Name, "false")).To(Succeed())
		changed := time.Now()
		st := check.State{Name: first + " not shared", Expect: map[string][]string{first: e.Names()}}
		for _, o := range e.Others(first) {
			st.Expect[o] = e.Others(first)
		}
		e.AwaitState(ctx, st, changed, iv.AnnotationSwitch)

		By("checking it holds for " + iv.Consistently.String())
		e.HoldState(ctx, st, iv.Consistently, HoldRequests)
	})
}

// CombinedSpec is the seed's case: cluster-1 not shared and affinity remote
// on cluster-2, so cluster-2's client is answered by cluster-3 only.
func CombinedSpec(input func() SpecInput) {
	It("answers the second cluster's client from the third cluster only when the first does not share and the second prefers remote", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		names := e.Names()
		first, second, third := names[0], names[1], names[2]
		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)

		By("[" + first + "] shared=false, [" + second + "] affinity=remote")
		Expect(workload.SetShared(ctx, e.Cluster(first), e.Config.Namespace, e.Service.Name, "false")).To(Succeed())
		Expect(workload.SetAffinity(ctx, e.Cluster(second), e.Config.Namespace, e.Service.Name, workload.AffinityRemote)).To(Succeed())
		changed := time.Now()
		st := check.State{Name: first + " not shared, " + second + " affinity remote", Expect: map[string][]string{
			first:  names,
			second: {third},
			third:  {second, third},
		}}
		e.AwaitState(ctx, st, changed, iv.AnnotationSwitch)

		By("checking it holds for " + iv.Consistently.String())
		e.HoldState(ctx, st, iv.Consistently, HoldRequests)
	})
}
