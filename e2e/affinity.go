package e2e

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// setAffinityAll writes the affinity annotation on the spec's service in
// every cluster ("" removes it) and returns when the last write returned.
func (e *Env) setAffinityAll(ctx context.Context, value string) time.Time {
	for _, c := range e.Clusters {
		Expect(workload.SetAffinity(ctx, c, e.Config.Namespace, e.Service.Name, value)).To(Succeed())
	}
	return time.Now()
}

// timing adds a measured duration to the spec's last judged report, the
// log and Ginkgo's report.
func (e *Env) timing(source, name string, d time.Duration) {
	e.Book.AddTiming(verdict.Timing{Name: name, Source: source, Duration: d})
	e.Logf(source, "%s: %s", name, d.Round(time.Millisecond))
	AddReportEntry("["+source+"] "+name, d.Round(time.Millisecond).String())
}

// scaleDown sets the spec's backend's replicas to 0 in clusters and returns the
// withdrawal under way (check.ScaleDown): its Changed time, and Gone.
func (e *Env) scaleDown(ctx context.Context, clusters []string) *check.Withdrawal {
	w, err := check.ScaleDown(ctx, e.scaleInput(clusters, e.Intervals().BackendWithdraw))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return w
}

// scaleUp brings the spec's backend back to one replica in clusters and returns when
// the last pod is Ready.
func (e *Env) scaleUp(ctx context.Context, clusters []string) time.Time {
	ready, err := check.ScaleUp(ctx, e.scaleInput(clusters, e.Intervals().WorkloadReady))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return ready
}

func (e *Env) scaleInput(clusters []string, timeout time.Duration) check.ScaleInput {
	in := check.ScaleInput{Namespace: e.Config.Namespace, Backend: e.Service.Backend, Timeout: timeout, Poll: e.Intervals().Poll}
	for _, c := range clusters {
		in.Clusters = append(in.Clusters, e.Cluster(c))
	}
	return in
}

// AffinityLocalSpec: only local answers; local backends gone -> the remote
// clusters answer; back -> local again. From every source in turn.
func AffinityLocalSpec(input func() SpecInput) {
	It("answers only locally, fails over to the remote clusters while the local backends are gone, and comes back", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		By("putting the spec's service " + e.Service.Name + " and its backend into their starting state")
		e.Prepare(ctx)

		By("affinity=local on every cluster")
		changed := e.setAffinityAll(ctx, workload.AffinityLocal)
		e.AwaitState(ctx, e.OnlyLocal("affinity local: only local answers"), changed, iv.AnnotationSwitch)

		for _, src := range e.Names() {
			By("[" + src + "] scaling the local backends to zero")
			w := e.scaleDown(ctx, []string{src})
			e.AwaitState(ctx, check.From("affinity local, "+src+" has no backend: remote answers", src, e.Others(src)...), w.Changed, iv.BackendWithdraw)
			at, err := w.Gone()
			Expect(err).NotTo(HaveOccurred())
			e.timing(src, "local pods gone after scale to zero", at.Sub(w.Changed))

			By("[" + src + "] restoring the local backends")
			start := time.Now()
			ready := e.scaleUp(ctx, []string{src})
			e.AwaitState(ctx, check.From("affinity local, "+src+" restored: local answers", src, src), ready, iv.AnnotationSwitch)
			e.timing(src, "local pod ready after scale up (switch measured from here)", ready.Sub(start))
		}
	})
}

// AffinityRemoteSpec: only remote answers; remote backends gone -> local;
// back -> remote. A terminating REMOTE backend keeps getting new connections
// until its pod is gone, so the withdrawal is checked in the source's agents
// (their backend list is the truth) and its time reported.
func AffinityRemoteSpec(input func() SpecInput) {
	It("answers only remotely, falls back to local while the remote backends are gone, and comes back", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		By("putting the spec's service " + e.Service.Name + " and its backend into their starting state")
		e.Prepare(ctx)

		By("affinity=remote on every cluster")
		changed := e.setAffinityAll(ctx, workload.AffinityRemote)
		e.AwaitState(ctx, e.OnlyRemote("affinity remote: only remote answers"), changed, iv.AnnotationSwitch)

		for _, src := range e.Names() {
			remotes := e.Others(src)
			By(fmt.Sprintf("[%s] scaling the remote backends (%v) to zero", src, remotes))
			w := e.scaleDown(ctx, remotes)
			var (
				agentsAt  time.Time
				agentsErr error
				wg        sync.WaitGroup
			)
			wg.Go(func() {
				// The agents of src list only their own cluster's backends
				// once the remote pods are gone.
				agentsErr = kube.Poll(ctx, iv.BackendWithdraw, iv.Poll, func(ctx context.Context) error {
					return e.Agents.BackendsFrom(ctx, src, e.Config.Namespace, e.Service.Name, []string{src})
				})
				agentsAt = time.Now()
			})
			e.AwaitState(ctx, check.From("affinity remote, remotes of "+src+" gone: local answers", src, src), w.Changed, iv.BackendWithdraw)
			at, err := w.Gone()
			Expect(err).NotTo(HaveOccurred())
			wg.Wait()
			Expect(agentsErr).NotTo(HaveOccurred())
			e.timing(src, "remote pods gone after scale to zero", at.Sub(w.Changed))
			e.timing(src, "remote backends withdrawn from the source's agents", agentsAt.Sub(w.Changed))

			By(fmt.Sprintf("[%s] restoring the remote backends", src))
			start := time.Now()
			ready := e.scaleUp(ctx, remotes)
			e.AwaitState(ctx, check.From("affinity remote, remotes of "+src+" restored: remote answers", src, remotes...), ready, iv.BackendsSynced)
			e.timing(src, "remote pods ready after scale up (switch measured from here)", ready.Sub(start))
		}
	})
}

// AffinityNoneSpec: affinity "none" written literally behaves as no
// annotation, with every backend and with the local backends gone.
func AffinityNoneSpec(input func() SpecInput) {
	It(`behaves exactly like no affinity annotation when written as "none", also with the local backends gone`, func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		ns := e.Config.Namespace
		By("putting the spec's service " + e.Service.Name + " and its backend into their starting state")
		e.Prepare(ctx)

		By("no affinity annotation: every cluster answers")
		e.AwaitState(ctx, e.Everyone("no affinity: every cluster answers"), time.Time{}, iv.AnnotationSwitch)
		By(`affinity="none" on every cluster: the same`)
		changed := e.setAffinityAll(ctx, workload.AffinityNone)
		everyone := e.Everyone(`affinity "none": every cluster answers`)
		e.AwaitState(ctx, everyone, changed, iv.AnnotationSwitch)
		// The state is the one before the change, so the await can pass
		// before an agent has taken the annotation; held for Consistently,
		// an agent that reads "none" as "local" fails it. Cilium 1.18.11,
		// 2026-12-04: the await passed from every source, then the hold
		// saw cluster-1 and cluster-2 answered by themselves alone (360 of
		// 360); cluster-3 got 22 remote answers before its agent took the
		// annotation, so the hold (every cluster over its whole time)
		// names two sources, not three.
		By("checking it holds for " + iv.Consistently.String())
		e.HoldState(ctx, everyone, iv.Consistently, HoldRequests)

		for _, src := range e.Names() {
			By("[" + src + "] scaling the local backends to zero")
			w := e.scaleDown(ctx, []string{src})
			e.AwaitState(ctx, check.From(`affinity "none", `+src+" has no backend: remote answers", src, e.Others(src)...), w.Changed, iv.BackendWithdraw)
			_, err := w.Gone()
			Expect(err).NotTo(HaveOccurred())

			By("[" + src + "] removing the annotation while the local backends are gone: the same")
			Expect(workload.SetAffinity(ctx, e.Cluster(src), ns, e.Service.Name, "")).To(Succeed())
			e.AwaitState(ctx, check.From("no affinity, "+src+" has no backend: remote answers", src, e.Others(src)...), time.Time{}, iv.AnnotationSwitch)

			By("[" + src + "] back to \"none\" and the local backends restored")
			Expect(workload.SetAffinity(ctx, e.Cluster(src), ns, e.Service.Name, workload.AffinityNone)).To(Succeed())
			ready := e.scaleUp(ctx, []string{src})
			e.AwaitState(ctx, check.From(`affinity "none", `+src+" restored: every cluster answers", src, e.Names()...), ready, iv.AnnotationSwitch)
		}
	})
}
