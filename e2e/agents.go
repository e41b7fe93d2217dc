package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
)

// Agents reads what the specs need from Cilium's agents (through
// fixtures/cilium): the remote clusters each agent sees, and the backends
// each agent has for the helloworld service, attributed to clusters by pod
// CIDR.
type Agents struct {
	Clusters []config.Cluster
	Handles  map[string]cluster.Handle
	Exec     map[string]kube.Execer
}

// Backend is one backend of the service in one agent's table.
type Backend struct {
	IP    netip.Addr
	State string
	// Cluster is the cluster whose pod CIDR holds IP ("" if none does).
	Cluster string
}

func (b Backend) String() string { return fmt.Sprintf("%s(%s,%s)", b.IP, b.Cluster, b.State) }

func (a *Agents) pods(ctx context.Context, name string) ([]string, error) {
	pods, err := kube.ReadyPods(ctx, a.Handles[name].Client, cilium.Namespace, cilium.AgentSelector)
	if err != nil {
		return nil, fmt.Errorf("[%s] cilium agents: %w", name, err)
	}
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	return names, nil
}

// MeshConnected returns each agent's view of the remote clusters of cluster
// name, and an error unless every agent sees every other cluster of the run
// connected, ready and synced.
func (a *Agents) MeshConnected(ctx context.Context, name string) (map[string][]cilium.RemoteCluster, error) {
	pods, err := a.pods(ctx, name)
	if err != nil {
		return nil, err
	}
	var remotes []string
	for _, c := range a.Clusters {
		if c.Name != name {
			remotes = append(remotes, c.Name)
		}
	}
	seen := map[string][]cilium.RemoteCluster{}
	var errs []error
	for _, pod := range pods {
		out, _, err := a.Exec[name].Exec(ctx, kube.ExecInput{Namespace: cilium.Namespace, Pod: pod, Container: cilium.AgentContainer,
			Command: []string{"cilium-dbg", "status", "-o", "json"}})
		if err != nil && len(out) == 0 {
			return seen, fmt.Errorf("[%s] %w", name, err)
		}
		st, err := cilium.ParseStatus(out)
		if err != nil {
			return seen, fmt.Errorf("[%s] agent %s: %w", name, pod, err)
		}
		if st.ClusterMesh != nil {
			seen[pod] = st.ClusterMesh.Clusters
		}
		if err := st.MeshReady(remotes); err != nil {
			errs = append(errs, fmt.Errorf("agent %s: %w", pod, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return seen, fmt.Errorf("[%s] clustermesh: %w", name, err)
	}
	return seen, nil
}

// Backends returns, per agent pod of cluster name, the helloworld service's
// backends in that agent's table.
func (a *Agents) Backends(ctx context.Context, name, namespace, service string) (map[string][]Backend, error) {
	pods, err := a.pods(ctx, name)
	if err != nil {
		return nil, err
	}
	out := map[string][]Backend{}
	for _, pod := range pods {
		have, err := cilium.AgentBackends(ctx, a.Exec[name], pod, namespace, service)
		if err != nil {
			return out, fmt.Errorf("[%s] agent %s: %w", name, pod, err)
		}
		for ip, state := range have {
			out[pod] = append(out[pod], Backend{IP: ip, State: state, Cluster: a.clusterOf(ip)})
		}
		sort.Slice(out[pod], func(i, j int) bool { return out[pod][i].IP.Less(out[pod][j].IP) })
	}
	return out, nil
}

func (a *Agents) clusterOf(ip netip.Addr) string {
	for _, c := range a.Clusters {
		if c.PodCIDR.IsValid() && c.PodCIDR.Contains(ip) {
			return c.Name
		}
	}
	return ""
}

// BackendsFrom returns nil when every agent of cluster name lists backends
// of exactly the clusters in want (in any state: a listed remote backend,
// even terminating, still gets new connections).
func (a *Agents) BackendsFrom(ctx context.Context, name, namespace, service string, want []string) error {
	per, err := a.Backends(ctx, name, namespace, service)
	if err != nil {
		return err
	}
	w := slices.Sorted(slices.Values(want))
	var problems []string
	for pod, bs := range per {
		var have []string
		for _, b := range bs {
			if !slices.Contains(have, b.Cluster) {
				have = append(have, b.Cluster)
			}
		}
		slices.Sort(have)
		if !slices.Equal(have, w) {
			problems = append(problems, fmt.Sprintf("%s lists backends of [%s], want [%s]: %v", pod, strings.Join(have, " "), strings.Join(w, " "), bs))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("[%s] service %s/%s: %s", name, namespace, service, strings.Join(problems, "; "))
	}
	return nil
}
