package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// PodIPRequests is how many requests go to each remote pod IP.
const PodIPRequests = 3

// PodIPRoutingSpec: each cluster's client reaches the other clusters'
// helloworld pods by pod IP (no service in between).
func PodIPRoutingSpec(input func() SpecInput) {
	It("reaches every other cluster's helloworld pods by pod IP, from every cluster", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		r := e.Book.New("pod IP routing", e.Names()...)
		pods := check.AppPods{Clusters: e.Clusters, Namespace: e.Config.Namespace, Clients: e.Clients, Timeout: iv.Request, Known: e.Known,
			Port: workload.ParamsFor(e.Config)(e.Clusters[0]).ContainerPort}
		in := check.RoutesInput{Pods: pods, Clusters: e.Names(), Requests: PodIPRequests, Timeout: iv.BackendsSynced, Poll: iv.Poll, Report: r}
		for _, src := range e.Names() {
			By("[" + src + "] curling the other clusters' pods by IP")
			Expect(check.RoutesFrom(ctx, in, src)).To(Succeed())
		}
		r.SetVerdict(nil)
		r.Duration = time.Since(r.Started)
	})
}
