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

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// setAffinityAll writes the affinity annotation on every cluster's service
// ("" removes it) and returns when the last write returned.
func (e *Env) setAffinityAll(ctx context.Context, value string) time.Time {
	for _, c := range e.Clusters {
		Expect(workload.SetAffinity(ctx, c, e.Config.Namespace, value)).To(Succeed())
	}
	return time.Now()
}

// timing adds a measured duration to the report last created.
func (e *Env) timing(source, name string, d time.Duration) {
	rs := slices.DeleteFunc(e.Book.Current(), func(r *verdict.Report) bool { return r.Informational })
	if len(rs) == 0 {
		return
	}
	r := rs[len(rs)-1]
	r.Timings = append(r.Timings, verdict.Timing{Name: name, Source: source, Duration: d})
	e.Logf(source, "%s: %s", name, d.Round(time.Millisecond))
	AddReportEntry("["+source+"] "+name, d.Round(time.Millisecond).String())
}

// scaleDown sets the app's replicas to 0 in clusters and, without waiting
// here, returns a function that waits until their pods are gone and says
// when that happened.
func (e *Env) scaleDown(ctx context.Context, clusters []string) (changed time.Time, gone func() (time.Time, error)) {
	for _, c := range clusters {
		Expect(workload.SetReplicas(ctx, e.Cluster(c), e.Config.Namespace, workload.App, 0)).To(Succeed())
	}
	changed = time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last time.Time
		errs []error
	)
	for _, c := range clusters {
		wg.Go(func() {
			// When the pods are gone (the moment that matters to the other
			// clusters' agents), then the deployment settled at zero.
			err := kube.Poll(ctx, e.Intervals().BackendWithdraw, e.Intervals().Poll, func(ctx context.Context) error {
				pods, err := workload.Pods(ctx, e.Cluster(c), e.Config.Namespace, workload.AppSelector)
				if err == nil && len(pods) > 0 {
					err = fmt.Errorf("[%s] %d helloworld pods left", c, len(pods))
				}
				return err
			})
			at := time.Now()
			if err == nil {
				err = workload.Scale(ctx, workload.ScaleInput{Cluster: e.Cluster(c), Namespace: e.Config.Namespace,
					Replicas: 0, Wait: e.Wait(e.Intervals().BackendWithdraw)})
			}
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
			if at.After(last) {
				last = at
			}
		})
	}
	return changed, func() (time.Time, error) { wg.Wait(); return last, errors.Join(errs...) }
}

// scaleUp brings the app back to one replica in clusters and returns when
// the last pod is Ready.
func (e *Env) scaleUp(ctx context.Context, clusters []string) time.Time {
	for _, c := range clusters {
		Expect(workload.SetReplicas(ctx, e.Cluster(c), e.Config.Namespace, workload.App, 1)).To(Succeed())
	}
	for _, c := range clusters {
		Expect(workload.WaitAvailable(ctx, workload.WaitAvailableInput{Cluster: e.Cluster(c), Namespace: e.Config.Namespace,
			Deployment: workload.App, Wait: e.Wait(e.Intervals().WorkloadReady)})).To(Succeed())
	}
	return time.Now()
}

// AffinityLocalSpec: only local answers; local backends gone -> the remote
// clusters answer; back -> local again. From every source in turn.
func AffinityLocalSpec(input func() SpecInput) {
	It("answers only locally, fails over to the remote clusters while the local backends are gone, and comes back", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		DeferCleanup(e.RestoreBaseline)

		By("affinity=local on every cluster")
		changed := e.setAffinityAll(ctx, workload.AffinityLocal)
		e.AwaitState(ctx, e.OnlyLocal("affinity local: only local answers"), changed, iv.AnnotationSwitch)

		for _, src := range e.Names() {
			By("[" + src + "] scaling the local backends to zero")
			changed, gone := e.scaleDown(ctx, []string{src})
			e.AwaitState(ctx, check.State{Name: "affinity local, " + src + " has no backend: remote answers",
				Expect: map[string][]string{src: e.Others(src)}}, changed, iv.BackendWithdraw)
			at, err := gone()
			Expect(err).NotTo(HaveOccurred())
			e.timing(src, "local pods gone after scale to zero", at.Sub(changed))

			By("[" + src + "] restoring the local backends")
			start := time.Now()
			ready := e.scaleUp(ctx, []string{src})
			e.AwaitState(ctx, check.State{Name: "affinity local, " + src + " restored: local answers",
				Expect: map[string][]string{src: {src}}}, ready, iv.AnnotationSwitch)
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
		DeferCleanup(e.RestoreBaseline)

		By("affinity=remote on every cluster")
		changed := e.setAffinityAll(ctx, workload.AffinityRemote)
		e.AwaitState(ctx, e.OnlyRemote("affinity remote: only remote answers"), changed, iv.AnnotationSwitch)

		for _, src := range e.Names() {
			remotes := e.Others(src)
			By(fmt.Sprintf("[%s] scaling the remote backends (%v) to zero", src, remotes))
			changed, gone := e.scaleDown(ctx, remotes)
			var (
				agentsAt  time.Time
				agentsErr error
				wg        sync.WaitGroup
			)
			wg.Go(func() {
				// The agents of src list only their own cluster's backends
				// once the remote pods are gone.
				agentsErr = kube.Poll(ctx, iv.BackendWithdraw, iv.Poll, func(ctx context.Context) error {
					return e.Agents.BackendsFrom(ctx, src, e.Config.Namespace, workload.Service, []string{src})
				})
				agentsAt = time.Now()
			})
			e.AwaitState(ctx, check.State{Name: "affinity remote, remotes of " + src + " gone: local answers",
				Expect: map[string][]string{src: {src}}}, changed, iv.BackendWithdraw)
			at, err := gone()
			Expect(err).NotTo(HaveOccurred())
			wg.Wait()
			Expect(agentsErr).NotTo(HaveOccurred())
			e.timing(src, "remote pods gone after scale to zero", at.Sub(changed))
			e.timing(src, "remote backends withdrawn from the source's agents", agentsAt.Sub(changed))

			By(fmt.Sprintf("[%s] restoring the remote backends", src))
			start := time.Now()
			ready := e.scaleUp(ctx, remotes)
			e.AwaitState(ctx, check.State{Name: "affinity remote, remotes of " + src + " restored: remote answers",
				Expect: map[string][]string{src: remotes}}, ready, iv.BackendsSynced)
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
		DeferCleanup(e.RestoreBaseline)

		By("no affinity annotation: every cluster answers")
		e.AwaitState(ctx, e.Everyone("no affinity: every cluster answers"), time.Time{}, iv.AnnotationSwitch)
		By(`affinity="none" on every cluster: the same`)
		changed := e.setAffinityAll(ctx, workload.AffinityNone)
		e.AwaitState(ctx, e.Everyone(`affinity "none": every cluster answers`), changed, iv.AnnotationSwitch)

		for _, src := range e.Names() {
			remoteOnly := map[string][]string{src: e.Others(src)}
			By("[" + src + "] scaling the local backends to zero")
			changed, gone := e.scaleDown(ctx, []string{src})
			e.AwaitState(ctx, check.State{Name: `affinity "none", ` + src + " has no backend: remote answers", Expect: remoteOnly}, changed, iv.BackendWithdraw)
			_, err := gone()
			Expect(err).NotTo(HaveOccurred())

			By("[" + src + "] removing the annotation while the local backends are gone: the same")
			Expect(workload.SetAffinity(ctx, e.Cluster(src), ns, "")).To(Succeed())
			e.AwaitState(ctx, check.State{Name: "no affinity, " + src + " has no backend: remote answers", Expect: remoteOnly}, time.Time{}, iv.AnnotationSwitch)

			By("[" + src + "] back to \"none\" and the local backends restored")
			Expect(workload.SetAffinity(ctx, e.Cluster(src), ns, workload.AffinityNone)).To(Succeed())
			ready := e.scaleUp(ctx, []string{src})
			e.AwaitState(ctx, check.State{Name: `affinity "none", ` + src + " restored: every cluster answers",
				Expect: map[string][]string{src: e.Names()}}, ready, iv.AnnotationSwitch)
		}
	})
}
