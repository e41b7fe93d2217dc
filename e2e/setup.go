package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// Mesh brings up (or finds) the meshed clusters and takes them down.
//
// TODO(bring-up): fixtures/bringup's Up/Down return the same per-cluster
// handles; until it lands, only existing clusters (USE_EXISTING_CLUSTERS,
// or the existing provider) are supported here.
type Mesh struct {
	Config config.Config
	Log    io.Writer
	// Created is true when Up made the clusters (then Down deletes them).
	Created bool
}

// Up returns handles to meshed clusters.
func (m *Mesh) Up(ctx context.Context) ([]cluster.Handle, error) {
	p, err := cluster.New(m.Config, cluster.Options{Log: m.Log})
	if err != nil {
		return nil, err
	}
	if m.Config.UseExistingClusters || m.Config.Provider == config.ProviderExisting {
		return p.Handles(ctx)
	}
	return nil, fmt.Errorf("creating the mesh needs fixtures/bringup, which has not landed yet: " +
		"bring the clusters up with `make kind-up` and run with USE_EXISTING_CLUSTERS=true")
}

// Down deletes clusters Up created; it never deletes clusters it found.
func (m *Mesh) Down(ctx context.Context) error {
	if !m.Created {
		return nil
	}
	p, err := cluster.New(m.Config, cluster.Options{Log: m.Log})
	if err != nil {
		return err
	}
	return p.Delete(ctx)
}

// WorkloadClusters converts handles to the workload's view.
func WorkloadClusters(hs []cluster.Handle) []workload.Cluster {
	out := make([]workload.Cluster, len(hs))
	for i, h := range hs {
		out[i] = workload.Cluster{Name: h.Name, ID: h.ID, Client: h.Client}
	}
	return out
}

// Gate waits until the datapath is ready for the specs: every agent sees
// every other cluster, and every agent has the helloworld backends of all
// clusters (fixtures/cilium's gates).
func Gate(ctx context.Context, cfg config.Config, hs []cluster.Handle, log io.Writer) error {
	in := cilium.GateInput{Handles: hs, Intervals: cfg.Intervals, Log: log}
	if err := cilium.GateMesh(ctx, in); err != nil {
		return err
	}
	return cilium.GateServiceBackends(ctx, cilium.ServiceBackendsInput{GateInput: in, Namespace: cfg.Namespace, Name: workload.Service, WantPerCluster: 1})
}

// CollectBasics writes, per cluster under dir, what a failed spec needs
// first: the workload's pods, the namespace's events, and each agent's
// status and service table.
//
// TODO(artifacts): fixtures/artifacts collects the full set (logs of the
// agent, operator and clustermesh-apiserver, kind logs); call it instead once
// it lands.
func CollectBasics(ctx context.Context, cfg config.Config, hs []cluster.Handle) error {
	var errs []string
	for _, h := range hs {
		cdir := filepath.Join(cfg.Artifacts, "clusters", h.Name)
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			return err
		}
		var b strings.Builder
		pods, err := h.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err != nil {
			errs = append(errs, fmt.Sprintf("[%s] list pods: %v", h.Name, err))
		} else {
			for _, p := range pods.Items {
				fmt.Fprintf(&b, "%s/%s\t%s\t%s\tready=%t\t%s\n", p.Namespace, p.Name, p.Status.Phase, p.Status.PodIP, kube.PodReady(&p), p.Spec.NodeName)
			}
		}
		_ = os.WriteFile(filepath.Join(cdir, "pods.txt"), []byte(b.String()), 0o644)
		b.Reset()
		evs, err := h.Client.CoreV1().Events(cfg.Namespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, ev := range evs.Items {
				fmt.Fprintf(&b, "%s\t%s\t%s/%s\t%s\t%s\n", ev.LastTimestamp.UTC().Format("15:04:05"), ev.Type, ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Reason, ev.Message)
			}
		}
		_ = os.WriteFile(filepath.Join(cdir, "events-"+cfg.Namespace+".txt"), []byte(b.String()), 0o644)
		agents, err := kube.ListPods(ctx, h.Client, cilium.Namespace, cilium.AgentSelector)
		if err != nil {
			errs = append(errs, fmt.Sprintf("[%s] %v", h.Name, err))
			continue
		}
		ex := kube.NewExecer(h.REST)
		for _, p := range agents {
			for file, cmd := range map[string][]string{
				"cilium-status-" + p.Name + ".txt": {"cilium-dbg", "status", "--verbose"},
				"service-list-" + p.Name + ".txt":  {"cilium-dbg", "service", "list"},
			} {
				out, _, err := ex.Exec(ctx, kube.ExecInput{Namespace: cilium.Namespace, Pod: p.Name, Container: cilium.AgentContainer, Command: cmd})
				if err != nil {
					out = append(out, []byte("\n"+err.Error()+"\n")...)
				}
				_ = os.WriteFile(filepath.Join(cdir, file), out, 0o644)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("collect: %s", strings.Join(errs, "; "))
	}
	return nil
}
