package e2e

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
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
		port := workload.ParamsFor(e.Config)(e.Clusters[0]).ContainerPort
		for _, src := range e.Names() {
			By("[" + src + "] curling the other clusters' pods by IP")
			var t *verdict.Tally
			Eventually(ctx, func(ctx context.Context) error {
				t = verdict.NewTally(e.Names()...)
				var errs []error
				for _, dst := range e.Others(src) {
					ips, err := workload.AppPodIPs(ctx, e.Cluster(dst), e.Config.Namespace)
					if err != nil {
						return err
					}
					for _, ip := range ips {
						b, err := probe.Pod(ctx, probe.PodInput{Client: e.Clients[src], IP: ip, Port: port,
							Requests: PodIPRequests, Timeout: iv.Request, Known: e.Known})
						if err != nil {
							errs = append(errs, err)
						}
						b.AddTo(t)
						for _, res := range b.Results {
							if res.Err == nil && res.Cluster != dst {
								errs = append(errs, fmt.Errorf("[%s] pod %s of %s answered as %s", src, ip, dst, res.Cluster))
							}
						}
					}
				}
				if err := errors.Join(errs...); err != nil {
					return err
				}
				return check.Exactly(t, src, e.Others(src))
			}).WithTimeout(iv.BackendsSynced).WithPolling(iv.Poll).Should(Succeed())
			r.Tally.Merge(t)
		}
		r.Passed, r.Duration = true, time.Since(r.Started)
	})
}
