package e2e

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// The global-service shapes users run beyond the suite's own: the seed's
// Service exactly as written there, a service with two ports, a service
// deleted and re-created. Every steady state is awaited from every source
// (its switch timed from the change), then the service's views must agree
// (check.AgreeViews).

// RecreatedPort is the port the re-create spec moves its service to.
const RecreatedPort = 8081

// ForPort is the environment probing the spec's service on port.
func (e *Env) ForPort(port int) *Env {
	c := *e
	c.Prober = e.portProber(port)
	return &c
}

func (e *Env) portProber(port int) check.Service {
	return check.Service{Clients: e.Clients, URL: probe.ServicePortURL(e.Service.Name, e.Config.Namespace, port),
		Timeout: e.Config.Intervals.Request, Known: e.Known}
}

// AgreeViews checks that the spec's service's EndpointSlices, every agent's
// table and the answers of st (its last judged report in the book) tell one
// story (check.AgreeViews); port is the service port st's requests went to
// (0: every frontend).
func (e *Env) AgreeViews(ctx context.Context, st check.State, port int) {
	GinkgoHelper()
	e.agreeViews(ctx, e.viewsInput(st, port))
}

// viewsInput is check.AgreeViews' input for the spec's service and the
// answers of st.
func (e *Env) viewsInput(st check.State, port int) check.ViewsInput {
	GinkgoHelper()
	var tally *verdict.Tally
	reports := e.Book.Current()
	for i := len(reports) - 1; i >= 0 && tally == nil; i-- {
		if r := reports[i]; !r.Informational && strings.HasSuffix(r.Spec, " :: "+st.Name) {
			tally = r.Tally
		}
	}
	Expect(tally).NotTo(BeNil(), "no report of state %q to compare the views with", st.Name)
	iv := e.Intervals()
	return check.ViewsInput{Agents: e.Agents, Namespace: e.Config.Namespace, Service: e.Service.Name,
		Port: port, Answers: tally, Sources: st.Sources(), Timeout: iv.AnnotationSwitch, Poll: iv.Poll, Log: e.Log}
}

func (e *Env) agreeViews(ctx context.Context, in check.ViewsInput) {
	GinkgoHelper()
	_, err := check.AgreeViews(ctx, in)
	Expect(err).NotTo(HaveOccurred())
}

// awaitTimed is AwaitState from since, each source's switch also in
// Ginkgo's report (the runtime spec's way).
func (e *Env) awaitTimed(ctx context.Context, st check.State, since time.Time, timeout time.Duration) {
	for _, sw := range e.AwaitState(ctx, st, since, timeout) {
		AddReportEntry(st.Name+" ["+sw.Source+"]", sw.First.Round(time.Millisecond).String()+" first, "+sw.Clean.Round(time.Millisecond).String()+" clean")
	}
}

// serviceIn is the spec's service, as svc, in one cluster.
func (e *Env) serviceIn(cluster string, svc workload.GlobalService) workload.ServiceInput {
	return workload.ServiceInput{Cluster: e.Cluster(cluster), Namespace: e.Config.Namespace, Service: svc,
		Params: workload.ParamsFor(e.Config), Wait: e.Wait(e.Intervals().WorkloadReady)}
}

// SeedServiceSpec: the seed's own Service (an unnamed port 80 without
// targetPort, global and shared "true") is answered by every cluster from
// every cluster; then the first cluster stops sharing; then every cluster
// gets each affinity value in turn, the first still not sharing, with the
// answering sets Cilium documents (local: the source's own backends while
// it has any; remote: the other clusters' shared backends while there are
// any; none: as without the annotation).
func SeedServiceSpec(input func() SpecInput) {
	It("answers the seed's own Service from every cluster, then as shared=false and each affinity value say, every view agreeing", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		names := e.Names()
		first := names[0]
		By("putting the spec's service " + e.Service.Name + " and its backend into their starting state")
		e.Prepare(ctx)

		st := e.Everyone("the seed's Service: every cluster answers every source")
		e.AwaitState(ctx, st, time.Time{}, iv.BackendsSynced)
		e.AgreeViews(ctx, st, 0)

		By("[" + first + "] shared=false")
		Expect(workload.SetShared(ctx, e.Cluster(first), e.Config.Namespace, e.Service.Name, "false")).To(Succeed())
		changed := time.Now()
		notShared := check.State{Name: first + " not shared", Expect: map[string][]string{first: names}}
		for _, o := range e.Others(first) {
			notShared.Expect[o] = e.Others(first)
		}
		e.awaitTimed(ctx, notShared, changed, iv.AnnotationSwitch)
		e.AgreeViews(ctx, notShared, 0)

		remote := check.State{Name: "affinity remote, " + first + " not shared", Expect: map[string][]string{first: e.Others(first)}}
		for _, o := range e.Others(first) {
			// The other clusters' backends, but the first's are not shared.
			remote.Expect[o] = check.Others(e.Others(first), o)
		}
		for _, step := range []struct {
			value string
			state check.State
		}{
			{workload.AffinityLocal, e.OnlyLocal("affinity local, " + first + " not shared: only local answers")},
			{workload.AffinityRemote, remote},
			{workload.AffinityNone, check.State{Name: `affinity "none", ` + first + " not shared: as without affinity", Expect: notShared.Expect}},
		} {
			By("affinity=" + step.value + " on every cluster, " + first + " still not shared")
			changed := e.setAffinityAll(ctx, step.value)
			e.awaitTimed(ctx, step.state, changed, iv.AnnotationSwitch)
			e.AgreeViews(ctx, step.state, 0)
		}
	})
}

// MultiPortSpec: a global service with two named ports to the same target
// port is answered by every cluster from every source on each port.
func MultiPortSpec(input func() SpecInput) {
	It("answers both ports of a two-port global service from every cluster, every view agreeing", func(ctx SpecContext) {
		e := input().Env
		By("putting the spec's service " + e.Service.Name + " into its starting state")
		e.Prepare(ctx)
		for _, p := range e.Service.PortList() {
			By(fmt.Sprintf("probing port %d (%s) from every cluster", p.Port, p.Name))
			pe := e.ForPort(p.Port)
			st := pe.Everyone(fmt.Sprintf("port %d (%s): every cluster answers every source", p.Port, p.Name))
			pe.AwaitState(ctx, st, time.Time{}, e.Intervals().BackendsSynced)
			pe.AgreeViews(ctx, st, p.Port)
		}
	})
}

// RecreateSpec: the first cluster deletes its copy of the global service
// while the others keep theirs, then re-creates it; then the service is
// re-created under the same name on another port, one cluster at a time,
// and finally as declared. Every state is timed from the change.
//
// Without a Service object a cluster has no ClusterIP and no DNS name for
// it (Cilium merges backends into a local Service; it creates none), so
// its client's requests must all fail to resolve the name, while the other
// clusters stop getting its backends.
func RecreateSpec(input func() SpecInput) {
	It("stops answering from a cluster that deletes the service, answers again once it is re-created, and on another port once re-created with it", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		names := e.Names()
		first, rest := names[0], e.Others(names[0])
		declared := e.Service
		moved := declared.WithPorts(workload.ServicePort{Name: "http", Port: RecreatedPort, ToBackend: true})
		By("putting the spec's service " + declared.Name + " into its starting state")
		e.Prepare(ctx)
		st := e.Everyone("every cluster answers every source")
		e.AwaitState(ctx, st, time.Time{}, iv.BackendsSynced)

		By("[" + first + "] deleting the service; " + strings.Join(rest, ", ") + " keep theirs")
		Expect(workload.DeleteService(ctx, e.serviceIn(first, declared))).To(Succeed())
		deleted := time.Now()
		gone := check.State{Name: first + " deleted its service", Expect: map[string][]string{},
			Fail: map[string]string{first: string(probe.KindDNS)}}
		for _, o := range rest {
			gone.Expect[o] = rest
		}
		e.awaitTimed(ctx, gone, deleted, iv.BackendWithdraw)
		e.AgreeViews(ctx, gone, 0)

		By("[" + first + "] re-creating it")
		Expect(workload.CreateService(ctx, e.serviceIn(first, declared))).To(Succeed())
		back := e.Everyone(first + " re-created it: every cluster answers every source")
		e.awaitTimed(ctx, back, time.Now(), iv.BackendsSynced)
		e.AgreeViews(ctx, back, 0)

		// Each client uses the port its own cluster's Service has; the
		// backends are merged by port name, so every cluster still answers.
		probers := check.BySource{}
		for _, c := range names {
			probers[c] = e.portProber(declared.Port())
		}
		for i, c := range names {
			By(fmt.Sprintf("[%s] re-creating it on port %d", c, RecreatedPort))
			Expect(workload.DeleteService(ctx, e.serviceIn(c, declared))).To(Succeed())
			Expect(workload.CreateService(ctx, e.serviceIn(c, moved))).To(Succeed())
			created := time.Now()
			probers[c] = e.portProber(RecreatedPort)
			pe := *e
			pe.Prober = probers
			st := pe.Everyone(fmt.Sprintf("%s on port %d: every cluster answers every source", strings.Join(names[:i+1], ", "), RecreatedPort))
			pe.awaitTimed(ctx, st, created, iv.BackendsSynced)
			pe.AgreeViews(ctx, st, 0)
		}

		By("re-creating it as declared (port " + fmt.Sprint(declared.Port()) + ") in every cluster")
		for _, c := range names {
			Expect(workload.DeleteService(ctx, e.serviceIn(c, moved))).To(Succeed())
			Expect(workload.CreateService(ctx, e.serviceIn(c, declared))).To(Succeed())
		}
		restored := e.Everyone("re-created as declared: every cluster answers every source")
		e.awaitTimed(ctx, restored, time.Now(), iv.BackendsSynced)
		e.AgreeViews(ctx, restored, 0)
	})
}
