package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/check"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/probe"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// MCSAPISpec: Cilium's Multi-Cluster Services API (KEP-1645). The spec's
// service is not annotated global; a ServiceExport in every cluster
// exports it. Cilium must then import it into every cluster (a ServiceImport
// that is ready, has a clusterset IP and lists every cluster), answer that
// IP from every cluster with every cluster's backends, and CoreDNS must
// resolve <service>.<namespace>.svc.clusterset.local to it. The name part
// needs a CoreDNS that serves clusterset.local: where the suite could not
// make one (clusters it did not create, no recent CoreDNS here), it skips
// with the reason, and the rest still runs.
func MCSAPISpec(input func() SpecInput) {
	It("imports the service every cluster exports into every cluster, and its clusterset IP is answered by every cluster from every cluster", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		requireMCSAPI(ctx, e)

		By("checking that " + e.Service.Name + " by its own name is answered by its own cluster only (it is not global)")
		e.AwaitState(ctx, e.OnlyLocal(e.Service.Name+" by its own name: local only"), time.Time{}, iv.BackendsSynced)

		imports := exportEverywhere(ctx, e)
		urls := map[string]string{}
		for name, imp := range imports {
			// A ClusterSetIP import has one address per IP family; the
			// suite runs IPv4 only.
			urls[name] = probe.PodURL(imp.IPs[0], int(imp.Ports[0]))
		}
		By(fmt.Sprintf("probing each cluster's clusterset IP from its own client (%v)", urls))
		st := e.Everyone(e.Service.Name + " at its clusterset IP: every cluster answers every source")
		e.probing(check.Service{Clients: e.Clients, URLs: urls, Timeout: iv.Request, Known: e.Known}).
			AwaitState(ctx, st, time.Time{}, iv.BackendsSynced)
		e.agreeImportViews(ctx, st, imports)
	})

	It("resolves the service's clusterset name in every cluster, answered by every cluster from every cluster", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		requireMCSAPI(ctx, e)

		By("asking whether clusterset.local can be checked here")
		reason, err := cilium.ClustersetSkip(ctx, cilium.MCSAPIInput{Handles: e.Handles, DNS: e.Config.MCSDNS()})
		Expect(err).NotTo(HaveOccurred())
		if reason != "" {
			Skip("clusterset.local is not served: " + reason)
		}

		imports := exportEverywhere(ctx, e)
		url := probe.ClustersetURL(e.Service.Name, e.Config.Namespace, config.ClustersetDomain)
		By("probing " + url + " from every cluster")
		st := e.Everyone(e.Service.Name + " by its clusterset name: every cluster answers every source")
		e.probing(check.Service{Clients: e.Clients, URL: url, Timeout: iv.Request, Known: e.Known}).
			AwaitState(ctx, st, time.Time{}, iv.BackendsSynced)
		e.agreeImportViews(ctx, st, imports)
	})
}

// requireMCSAPI skips the spec when the run has MCS-API off, and when
// Cilium runs without it on clusters the suite did not create; on clusters
// it created, Cilium without MCS-API is a failure (the suite installed it
// with clustermesh.mcsapi.enabled).
func requireMCSAPI(ctx context.Context, e *Env) {
	GinkgoHelper()
	if !e.Config.MCSAPI {
		Skip(e.Config.MCSDNS().Reason)
	}
	if reason := e.Config.MCSAPIUnsupported(); reason != "" {
		Skip(reason)
	}
	By("checking that every cluster's Cilium runs with MCS-API")
	off, err := cilium.MCSAPIEnabled(ctx, cilium.MCSAPIInput{Handles: e.Handles})
	Expect(err).NotTo(HaveOccurred())
	if len(off) == 0 {
		return
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(off)) {
		parts = append(parts, fmt.Sprintf("[%s] %s=%q", name, cilium.MCSAPIConfigKey, off[name]))
	}
	msg := "Cilium runs without MCS-API (cilium-config " + strings.Join(parts, ", ") + ")"
	if e.Config.Provider == config.ProviderKind {
		Fail(msg + ": the suite installs Cilium with clustermesh.mcsapi.enabled=true on the clusters it creates")
	}
	Skip(msg + ": these clusters' Cilium was not installed with MCS-API on")
}

// exportEverywhere creates the spec's ServiceExport in every cluster (kept
// when an earlier run made it) and waits for every cluster's ServiceImport.
func exportEverywhere(ctx context.Context, e *Env) map[string]workload.Import {
	GinkgoHelper()
	By("exporting " + e.Service.Name + " from every cluster (a ServiceExport in each)")
	Expect(workload.Export(ctx, workload.ExportInput{Clusters: e.Clusters, Namespace: e.Config.Namespace, Service: e.Service,
		RunID: e.Config.RunID, Log: e.Log})).To(Succeed())
	By("waiting for a ready ServiceImport in every cluster, with a clusterset IP, listing every cluster")
	imports, err := workload.AwaitImports(ctx, workload.ImportsInput{Clusters: e.Clusters, Namespace: e.Config.Namespace,
		Service: e.Service.Name, Exporters: e.Names(), Wait: e.Wait(e.Intervals().BackendsSynced), Log: e.Log})
	Expect(err).NotTo(HaveOccurred())
	for name, imp := range imports {
		Expect(imp.IPs).NotTo(BeEmpty(), "[%s] ServiceImport without a clusterset IP", name)
		Expect(imp.Ports).NotTo(BeEmpty(), "[%s] ServiceImport without ports", name)
	}
	return imports
}

// agreeImportViews checks the four views of the exported service after st:
// each cluster's Service and EndpointSlices (its own backends), every
// agent's table for the Service Cilium derived from the import (the
// clusterset IP's frontends), who answered st's requests, and each
// cluster's ServiceImport (check.ServiceImports).
func (e *Env) agreeImportViews(ctx context.Context, st check.State, imports map[string]workload.Import) {
	GinkgoHelper()
	By("checking that the EndpointSlices, the agents' tables of the derived service, the answers and the ServiceImports agree")
	in := e.viewsInput(st, 0)
	in.Frontends = map[string]string{}
	for _, c := range e.Clusters {
		name, err := workload.DerivedService(ctx, c, e.Config.Namespace, imports[c.Name].IPs[0])
		Expect(err).NotTo(HaveOccurred())
		in.Frontends[c.Name] = name
	}
	in.Imports = &check.ServiceImports{Clusters: e.Clusters, Exporters: e.Names()}
	e.agreeViews(ctx, in)
}

// probing is the environment probing with p instead of the spec's service
// by name.
func (e *Env) probing(p check.Prober) *Env {
	c := *e
	c.Prober = p
	return &c
}
