package e2e

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// TerminatingBatch is the background probe's requests per exec while a
// backend pod terminates: small, so each request is placed in time closely.
const TerminatingBatch = 10

// ReadinessSpec: the backend of the first cluster fails its readiness probe
// while it keeps serving -> no source is answered by that cluster, for the
// whole Consistently interval; ready again -> every source is answered by it
// again; each switch timed per source. Then its pod is deleted with its
// grace period while it still accepts new connections: who still reaches it
// (local versus remote sources) is REPORTED, not judged, because Cilium
// documents graceful termination only for the endpoints an agent reads from
// Kubernetes. The deployment's new pod must then answer every source.
func ReadinessSpec(input func() SpecInput) {
	It("stops sending to a backend that is not ready from every cluster, sends to it again once ready, and reports who still reaches it while it terminates", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		if e.Config.ImageSource == config.ImagesUpstream {
			Skip("the upstream helloworld image has no /admin/ready to turn its readiness off: this spec needs the image built here (IMAGE_SOURCE=source)")
		}
		target := e.Names()[0]
		By("putting the spec's service " + e.Service.Name + " and its backend into their starting state")
		e.Prepare(ctx)
		pod := e.backendPod(ctx, target)

		By(fmt.Sprintf("[%s] turning the readiness of %s off: it keeps serving, its probe fails", target, pod.Name))
		notReady := check.State{Name: target + "'s backend not ready: only the other clusters answer, every source", Expect: map[string][]string{}}
		for _, src := range e.Names() {
			notReady.Expect[src] = e.Others(target)
		}
		changed := e.setReady(ctx, target, pod, false)
		for _, sw := range e.awaitWatching(ctx, notReady, changed, iv.BackendWithdraw, target) {
			if sw.Watch.Answers == 0 {
				AddReportEntry("["+sw.Source+"] not ready -> last answer from "+target, "none after the toggle")
				continue
			}
			AddReportEntry("["+sw.Source+"] not ready -> last answer from "+target, sw.Watch.Last.Round(time.Millisecond).String())
		}
		By("checking it holds for " + iv.Consistently.String())
		e.HoldState(ctx, notReady, iv.Consistently, HoldRequests)

		By(fmt.Sprintf("[%s] turning the readiness of %s on again", target, pod.Name))
		changed = e.setReady(ctx, target, pod, true)
		for _, sw := range e.awaitWatching(ctx, e.Everyone(target+"'s backend ready again: every cluster answers every source"), changed, iv.BackendsSynced, target) {
			AddReportEntry("["+sw.Source+"] ready again -> first answer from "+target, sw.Watch.First.Round(time.Millisecond).String())
		}

		By(fmt.Sprintf("[%s] deleting %s with its grace period while it still serves and every source keeps probing (report-only)", target, pod.Name))
		term := e.terminate(ctx, target, pod)
		_, reaches := term.Report(e.Book, e.Log)
		for _, re := range reaches {
			for _, l := range re.Lines(term.Pod) {
				AddReportEntry("["+l.Source+"] "+check.ReportOnly+l.Name, l.Duration.Round(time.Millisecond).String())
			}
		}

		By(fmt.Sprintf("[%s] the deployment's new pod: every cluster answers every source again", target))
		Expect(workload.WaitAvailable(ctx, workload.WaitAvailableInput{Cluster: e.Cluster(target), Namespace: e.Config.Namespace,
			Deployment: e.Service.Backend.Name, Wait: e.Wait(iv.WorkloadReady)})).To(Succeed())
		e.AwaitState(ctx, e.Everyone(target+"'s backend replaced: every cluster answers every source"), term.Gone, iv.BackendsSynced)
	})
}

// backendPod is the one ready pod of the spec's backend in cluster name.
func (e *Env) backendPod(ctx context.Context, name string) corev1.Pod {
	pods, err := workload.Pods(ctx, e.Cluster(name), e.Config.Namespace, e.Service.Backend.Selector())
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, pods).To(HaveLen(1), "[%s] the pods of %s", name, e.Service.Backend.Name)
	p := pods[0]
	ExpectWithOffset(1, kube.PodReady(&p) && p.Status.PodIP != "").To(BeTrue(), "[%s] pod %s ready with an IP", name, p.Name)
	return p
}

// setReady turns the pod's readiness on or off from its cluster's client
// and returns when the app took it.
func (e *Env) setReady(ctx context.Context, name string, pod corev1.Pod, ready bool) time.Time {
	port := 0
	if c := pod.Spec.Containers; len(c) > 0 && len(c[0].Ports) > 0 {
		port = int(c[0].Ports[0].ContainerPort)
	}
	ExpectWithOffset(1, probe.SetReady(ctx, probe.ReadyInput{Client: e.Clients[name], IP: pod.Status.PodIP, Port: port,
		Ready: ready, Timeout: e.Intervals().Request})).To(Succeed())
	return time.Now()
}

// awaitWatching is AwaitState timing the answers of cluster watch from
// every source (check.AwaitInput.Watch).
func (e *Env) awaitWatching(ctx context.Context, st check.State, since time.Time, timeout time.Duration, watch string) []check.Switch {
	in := e.awaitInput(st, since, timeout)
	in.Watch = watch
	sw, err := check.Await(ctx, in)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return sw
}

// terminate deletes the pod with its own grace period while every client
// keeps probing the spec's service, waits until the pod is gone, and
// returns what the clients saw.
func (e *Env) terminate(ctx context.Context, name string, pod corev1.Pod) check.Termination {
	iv := e.Intervals()
	clients := make([]probe.Client, 0, len(e.Clients))
	for _, n := range e.Names() {
		clients = append(clients, e.Clients[n])
	}
	bg := probe.StartBackground(ctx, probe.BackgroundInput{Clients: clients, URL: probe.ServiceURL(e.Service.Name, e.Config.Namespace),
		Batch: TerminatingBatch, Timeout: iv.Request, Known: e.Known, Log: e.Log})
	defer bg.Stop()
	c := e.Cluster(name)
	grace, err := workload.DeletePod(ctx, c, &pod)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	t := check.Termination{Cluster: name, Pod: pod.Name, Grace: grace, Deleted: time.Now(), Clusters: e.Names()}
	ExpectWithOffset(1, kube.Poll(ctx, iv.BackendWithdraw, iv.Poll, func(ctx context.Context) error {
		return workload.PodGone(ctx, c, &pod)
	})).To(Succeed())
	t.Gone = time.Now()
	t.Record = bg.Stop()
	return t
}
