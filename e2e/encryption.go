package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/wireguard"
)

// EncryptionSpec: WireGuard between the clusters. It first asks the nodes'
// kernel (kind: a WireGuard link made and removed in a node container) and
// skips with the kernel's own words when it has none; then the install
// (cilium-config's enable-wireguard; the variant is HELM_VALUES=
// kind/values/wireguard.yaml) and skips, saying how, when the mesh was
// installed without it. Then every agent must report WireGuard on with
// every other node of the mesh as a peer, and cilium_wg0's counters must
// rise in every agent while every client is answered by every cluster.
func EncryptionSpec(input func() SpecInput) {
	It("encrypts the traffic between clusters with WireGuard: on in every agent, the requests through cilium_wg0", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()

		By("asking the nodes' kernel for a WireGuard link")
		nodes, all := 0, e.nodes(ctx)
		for _, c := range e.Names() {
			names := all[c]
			nodes += len(names)
			if e.Config.Provider != config.ProviderKind {
				continue // no node containers to ask: the agents say it below
			}
			for _, n := range names {
				err := wireguard.KernelSupport(ctx, cluster.ExecRunner{}, n)
				if u := (*wireguard.Unsupported)(nil); errors.As(err, &u) {
					Skip(fmt.Sprintf("[%s] %v", c, u))
				}
				Expect(err).NotTo(HaveOccurred(), "[%s]", c)
			}
		}

		By("reading whether the mesh was installed with WireGuard")
		for _, h := range e.Handles {
			on, err := wireguard.Configured(ctx, h.Client)
			Expect(err).NotTo(HaveOccurred(), "[%s]", h.Name)
			if !on {
				Skip(fmt.Sprintf("[%s] Cilium was installed without WireGuard (cilium-config %s is not \"true\"): run with HELM_VALUES=kind/values/wireguard.yaml",
					h.Name, wireguard.ConfigKey))
			}
		}

		By(fmt.Sprintf("every agent encrypts with WireGuard, with the mesh's other %d nodes as peers", nodes-1))
		agents := e.agentPods(ctx)
		for c, pods := range agents {
			for _, pod := range pods {
				st, err := wireguard.AgentStatus(ctx, e.Agents.Exec[c], pod)
				Expect(err).NotTo(HaveOccurred(), "[%s]", c)
				Expect(st.On(nodes-1)).To(Succeed(), "[%s] agent %s", c, pod)
			}
		}

		By("cilium_wg0's counters rise in every agent while every client is answered by every cluster")
		before := e.wgCounters(ctx, agents)
		st := e.Everyone("every cluster answers every source, through WireGuard")
		e.AwaitState(ctx, st, time.Time{}, iv.BackendsSynced)
		after := e.wgCounters(ctx, agents)
		var answers *verdict.Tally
		for _, r := range e.Book.Current() {
			if strings.HasSuffix(r.Spec, " :: "+st.Name) {
				answers = r.Tally
			}
		}
		Expect(answers).NotTo(BeNil(), "the report of %q", st.Name)
		// Each answer from another cluster is a TCP connection: at least
		// three packets each way through cilium_wg0 on both ends.
		for c, pods := range agents {
			remote := 0
			for _, o := range e.Others(c) {
				remote += answers.Count(c, o)
			}
			for _, pod := range pods {
				Expect(after[pod].Rose(before[pod], uint64(3*remote))).To(Succeed(), "[%s] agent %s (%d answers from other clusters)", c, pod, remote)
			}
		}
	})
}

// agentPods are the Ready Cilium agents, by cluster.
func (e *Env) agentPods(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	for _, h := range e.Handles {
		pods, err := kube.ReadyPods(ctx, h.Client, cilium.Namespace, cilium.AgentSelector)
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "[%s] cilium agents", h.Name)
		for _, p := range pods {
			out[h.Name] = append(out[h.Name], p.Name)
		}
	}
	return out
}

// wgCounters reads cilium_wg0's counters in every agent, by pod.
func (e *Env) wgCounters(ctx context.Context, agents map[string][]string) map[string]wireguard.Counters {
	out := map[string]wireguard.Counters{}
	for c, pods := range agents {
		for _, pod := range pods {
			n, err := wireguard.ReadCounters(ctx, e.Agents.Exec[c], pod)
			ExpectWithOffset(1, err).NotTo(HaveOccurred(), "[%s]", c)
			out[pod] = n
		}
	}
	return out
}
