package e2e

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// RuntimeChangesSpec walks the annotations through none -> local -> remote
// -> affinity removed -> global removed -> global back, on every cluster at
// once, and measures from every source how long each change took to reach
// the datapath (first answer in the new state, then a clean batch).
func RuntimeChangesSpec(input func() SpecInput) {
	It("takes every annotation change at run time, each measured from every cluster", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		ns, svc := e.Config.Namespace, e.Service.Name
		By("putting the spec's service " + svc + " into its starting state")
		e.Prepare(ctx)

		steps := []struct {
			name   string
			change func(ctx context.Context, c workload.Cluster) error
			state  check.State
		}{
			{"affinity none -> local", func(ctx context.Context, c workload.Cluster) error {
				return workload.SetAffinity(ctx, c, ns, svc, workload.AffinityLocal)
			}, e.OnlyLocal("runtime: affinity local")},
			{"affinity local -> remote", func(ctx context.Context, c workload.Cluster) error {
				return workload.SetAffinity(ctx, c, ns, svc, workload.AffinityRemote)
			}, e.OnlyRemote("runtime: affinity remote")},
			{"affinity annotation removed", func(ctx context.Context, c workload.Cluster) error {
				return workload.SetAffinity(ctx, c, ns, svc, "")
			}, e.Everyone("runtime: affinity removed, every cluster answers")},
			{"global annotation removed", func(ctx context.Context, c workload.Cluster) error {
				return workload.SetGlobal(ctx, c, ns, svc, "")
			}, e.OnlyLocal("runtime: global removed, the service is local only")},
			{"global annotation back", func(ctx context.Context, c workload.Cluster) error {
				return workload.SetGlobal(ctx, c, ns, svc, "true")
			}, e.Everyone("runtime: global again, every cluster answers")},
		}

		By("starting from no affinity: every cluster answers")
		e.AwaitState(ctx, e.Everyone("runtime: no affinity"), time.Time{}, iv.AnnotationSwitch)
		for _, s := range steps {
			By(s.name + " on every cluster")
			for _, c := range e.Clusters {
				Expect(s.change(ctx, c)).To(Succeed())
			}
			changed := time.Now()
			switches := e.AwaitState(ctx, s.state, changed, iv.AnnotationSwitch)
			for _, sw := range switches {
				AddReportEntry(s.name+" ["+sw.Source+"]", sw.First.Round(time.Millisecond).String()+" first, "+sw.Clean.Round(time.Millisecond).String()+" clean")
			}
		}
	})
}
