package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/policy"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// PolicySpec: a CiliumNetworkPolicy on the spec's backend in the first
// cluster admits the clients of the second cluster only. Through the global
// service, the denied sources (the first and the third cluster) are still
// answered by the unpoliced backends, and their requests that land on the
// policed one are dropped (timeouts, not refusals); by pod IP, the policed
// backend drops every request from them. Removing the policy restores every
// source. Both changes are timed per source.
func PolicySpec(input func() SpecInput) {
	It("admits only the named remote cluster's clients to the policed backend, through the global service and by pod IP, and every client again once the policy is gone", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		pc := e.startPolicyCase(ctx)
		policed, allowed, reach := pc.policed, pc.allowed, pc.reach

		By("no policy: every backend answers every client, through the service and by pod IP")
		pc.probes.await(ctx, "no policy", check.Open, time.Time{}, iv.BackendsSynced)

		applied := pc.apply(ctx, e)
		denied := pc.probes.await(ctx, fmt.Sprintf("%s admits %s only", policed, allowed), reach, applied, iv.BackendsSynced)
		for _, sw := range denied[policed] {
			if reach(sw.Source, policed) == verdict.ResultDropped {
				e.timing(sw.Source, "policy applied -> first request dropped by "+policed+"'s backend (pod IP)"+atOnce(sw), sw.First)
			}
		}

		By(fmt.Sprintf("[%s] deleting the policy", policed))
		deleted, err := e.policyClient(policed).Delete(ctx, e.Config.Namespace, pc.admit.Name)
		Expect(err).NotTo(HaveOccurred())
		Expect(deleted).To(BeTrue(), "the policy was gone before the spec deleted it")
		removed := time.Now()
		restored := pc.probes.await(ctx, "policy removed: every backend answers every client", check.Open, removed, iv.BackendsSynced)
		for _, sw := range restored[policed] {
			if reach(sw.Source, policed) == verdict.ResultDropped {
				e.timing(sw.Source, "policy deleted -> first answer from "+policed+"'s backend (pod IP)"+atOnce(sw), sw.First)
			}
		}
	})
}

// atOnce marks a switch that was done before the first request: its time
// is an upper bound (the probe's own start-up).
func atOnce(sw check.Switch) string {
	if sw.AtOnce {
		return " (at most: the first request already was)"
	}
	return ""
}

// policyCase is where both policy specs start: the spec's backend in the
// first cluster (policed) is to admit the clients of the second (allowed)
// only.
type policyCase struct {
	policed, allowed string
	admit            policy.AdmitFromCluster
	reach            check.Reach
	probes           reachProbes
}

// startPolicyCase removes the spec's policy an interrupted run left, puts
// the spec's service and backend into their starting state and finds the
// backend's pods.
func (e *Env) startPolicyCase(ctx context.Context) policyCase {
	names := e.Names()
	pc := policyCase{policed: names[0], allowed: names[1]}
	pc.admit, pc.reach = e.admitPolicy(pc.allowed), check.AdmitOnly(pc.policed, pc.allowed)
	By("removing a policy an interrupted run left, then putting " + e.Service.Name + " and its backend into their starting state")
	e.removePolicies(ctx, pc.admit.Name)
	e.Prepare(ctx)
	pc.probes = e.reachProbes(ctx)
	return pc
}

// apply writes the policy (removed again when the spec ends, if still
// there) and returns when the API server took it.
func (pc policyCase) apply(ctx context.Context, e *Env) time.Time {
	By(fmt.Sprintf("[%s] a CiliumNetworkPolicy on %s admitting app=%s from %s only", pc.policed, e.Service.Backend.Name, workload.Client, pc.allowed))
	ExpectWithOffset(1, e.policyClient(pc.policed).Apply(ctx, pc.admit)).To(Succeed())
	applied := time.Now()
	DeferCleanup(func(ctx SpecContext) { e.removePolicies(ctx, pc.admit.Name) })
	return applied
}

// admitPolicy is the spec's policy: on its backend, admitting the client
// pods of cluster from. It carries the service's name.
func (e *Env) admitPolicy(from string) policy.AdmitFromCluster {
	return policy.AdmitFromCluster{Name: e.Service.Name, Namespace: e.Config.Namespace,
		Backend: map[string]string{"app": e.Service.Backend.Name}, Client: map[string]string{"app": workload.Client},
		From: from, RunID: e.Config.RunID, Spec: e.Service.Owner}
}

func (e *Env) policyClient(cluster string) policy.Client {
	for _, h := range e.Handles {
		if h.Name == cluster {
			c, err := policy.NewClient(h.Name, h.REST, e.Log)
			ExpectWithOffset(1, err).NotTo(HaveOccurred())
			return c
		}
	}
	Fail("e2e: unknown cluster " + cluster)
	return policy.Client{}
}

// removePolicies deletes the spec's policy (only the suite's) in every cluster.
func (e *Env) removePolicies(ctx context.Context, name string) {
	var errs []error
	for _, c := range e.Names() {
		_, err := e.policyClient(c).Delete(ctx, e.Config.Namespace, name)
		errs = append(errs, err)
	}
	ExpectWithOffset(1, errors.Join(errs...)).NotTo(HaveOccurred())
}

// reachProbes probe the spec's global service and, by pod IP, its backend
// in every cluster.
type reachProbes struct {
	e *Env
	// pods probes each cluster's backend pod by its IP, by target cluster.
	pods map[string]check.Prober
}

// reachProbes finds the spec's backend pod in every cluster.
func (e *Env) reachProbes(ctx context.Context) reachProbes {
	port := workload.ParamsFor(e.Config)(e.Clusters[0]).ContainerPort
	rp := reachProbes{e: e, pods: map[string]check.Prober{}}
	for _, c := range e.Clusters {
		ips, err := workload.BackendPodIPs(ctx, c, e.Config.Namespace, e.Service.Backend)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		ExpectWithOffset(1, ips).To(HaveLen(1), "[%s] the spec's backend runs one pod", c.Name)
		rp.pods[c.Name] = check.Service{Clients: e.Clients, URL: probe.PodURL(ips[0], port), Timeout: e.Intervals().Request, Known: e.Known}
	}
	return rp
}

// await reaches the states that reach gives, at once: the global service's
// from every client, and each backend's by pod IP from every client.
// since (when set) times every source's switch; the switches come back by
// target cluster ("" for the service).
func (rp reachProbes) await(ctx context.Context, name string, reach check.Reach, since time.Time, timeout time.Duration) map[string][]check.Switch {
	return rp.awaitOn(ctx, append([]string{""}, rp.e.Names()...), name, reach, since, timeout)
}

// awaitOn is await on some targets only: "" is the service, a cluster's
// name its backend by pod IP.
func (rp reachProbes) awaitOn(ctx context.Context, targets []string, name string, reach check.Reach, since time.Time, timeout time.Duration) map[string][]check.Switch {
	e := rp.e
	type job struct {
		target string
		in     check.AwaitInput
	}
	var jobs []job
	for _, dst := range targets {
		if dst == "" {
			jobs = append(jobs, job{"", check.AwaitInput{Prober: e.Prober, State: reach.ServiceState(name+": through "+e.Service.Name, e.Names()), Requests: e.Requests}})
			continue
		}
		jobs = append(jobs, job{dst, check.AwaitInput{Prober: rp.pods[dst],
			State: reach.PodState(name+": "+dst+"'s backend by pod IP", e.Names(), dst), Requests: PodIPRequests}})
	}
	var (
		mu   sync.Mutex
		out  = map[string][]check.Switch{}
		errs []error
		wg   sync.WaitGroup
	)
	for _, j := range jobs {
		in := j.in
		in.Clusters, in.Since, in.Timeout, in.Poll, in.Book, in.Log = e.Names(), since, timeout, e.Intervals().ProbePause, e.Book, e.Log
		wg.Go(func() {
			sw, err := check.Await(ctx, in)
			mu.Lock()
			defer mu.Unlock()
			out[j.target] = sw
			errs = append(errs, err)
		})
	}
	wg.Wait()
	ExpectWithOffset(1, errors.Join(errs...)).NotTo(HaveOccurred())
	return out
}
