package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/artifacts"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cilium"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
	"github.com/clustermesh-conformance/clustermesh-e2e/manifests"
)

const smokeCluster = "lab-smoke"

type smokeOptions struct {
	skipLoad      bool
	kubeconfigDir string
}

// smoke proves the lab's images work on ONE kind cluster, whatever the mesh
// clusters are doing: a node Ready with Cilium (VXLAN, kube-proxy
// replacement), a healthy agent, CoreDNS answering a lookup from a pod, and
// a pod reaching another pod and a Service.
func smoke(ctx context.Context, base config.Config, o smokeOptions) (err error) {
	log := os.Stderr
	start := time.Now()
	step := func(what string, since time.Time) {
		fmt.Fprintf(log, "[%s] %s: %s\n", smokeCluster, what, time.Since(since).Round(100*time.Millisecond))
	}
	cfg := base
	cfg.ImageSource = config.ImagesSource
	cfg.ExpectedClusters = 1
	c := base.Clusters[0]
	c.Name, c.Context = smokeCluster, config.KindContext(smokeCluster)
	tmp, err := os.MkdirTemp("", "lab-smoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c.KindConfig = filepath.Join(tmp, "kind.yaml")
	if err := os.WriteFile(c.KindConfig, []byte(fmt.Sprintf(`kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: %s
networking:
  disableDefaultCNI: true
  kubeProxyMode: none
  podSubnet: %s
  serviceSubnet: %s
nodes:
  - role: control-plane
`, smokeCluster, c.PodCIDR, c.ServiceCIDR)), 0o644); err != nil {
		return err
	}
	cfg.Clusters = []config.Cluster{c}
	// The smoke's own configuration, resolved once like every entry point's.
	if cfg, err = config.Resolve(ctx, cfg, cluster.ResolveSeams(log)); err != nil {
		return err
	}
	kind := cluster.NewKind(cfg, cluster.Options{KubeconfigDir: o.kubeconfigDir, Log: log, Runner: cluster.ExecRunner{}})
	var hs []cluster.Handle
	defer func() {
		if err != nil && len(hs) > 0 && ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			_ = artifacts.Collect(cctx, artifacts.CollectInput{Handles: hs, Provider: kind, Dir: cfg.Artifacts, Log: log})
			cancel()
		}
		if cfg.SkipCleanup {
			fmt.Fprintf(log, "[%s] kept (SKIP_CLEANUP)\n", smokeCluster)
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := kind.Delete(dctx); derr != nil {
			err = errors.Join(err, derr)
		}
	}()

	t := time.Now()
	if hs, err = kind.Create(ctx); err != nil {
		return err
	}
	h := hs[0]
	step("create", t)
	if !o.skipLoad {
		t = time.Now()
		if _, err := kind.LoadImages(ctx, bringup.ImagesToLoad(ctx, cfg)); err != nil {
			return err
		}
		step("load images", t)
	}
	t = time.Now()
	ca, err := cilium.EnsureCA(ctx, cilium.EnsureCAInput{Handles: hs, Log: log})
	if err != nil {
		return err
	}
	chart, source, err := cilium.LoadChart(ctx, cilium.ChartInput{Version: cfg.CiliumVersion, Path: cfg.CiliumChart, Offline: true, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "[%s] cilium chart %s from %s\n", smokeCluster, chart.Metadata.Version, source)
	if err := cilium.PrepareMCSCoreDNS(ctx, cfg, hs, log); err != nil {
		return err
	}
	vals, err := cilium.ClusterValues(cilium.ClusterValuesInput{Config: cfg, Cluster: c, Handle: h})
	if err != nil {
		return err
	}
	if _, err := cilium.Install(ctx, cilium.InstallInput{Handle: h, Chart: chart, Values: vals, CA: ca, Timeout: cfg.Intervals.CiliumReady,
		RunID: cfg.RunID, Log: log}); err != nil {
		return err
	}
	step("install", t)
	t = time.Now()
	if err := kube.Poll(ctx, cfg.Intervals.CiliumReady, cfg.Intervals.Poll, func(ctx context.Context) error { return kube.NodesReady(ctx, h.Client) }); err != nil {
		return fmt.Errorf("[%s] nodes ready: %w", smokeCluster, err)
	}
	step("node ready", t)
	if err := cilium.GateAgents(ctx, cilium.GateInput{Handles: hs, Intervals: cfg.Intervals, Log: log}); err != nil {
		return err
	}
	step("cilium healthy", t)

	t = time.Now()
	ns := cfg.Namespace
	// The smoke needs one service: the helloworld pair, not every spec's.
	shared := workload.Shared()
	if err := workload.Deploy(ctx, workload.DeployInput{Clusters: hs, Namespace: ns, Set: &shared,
		Wait: workload.Wait{Timeout: cfg.Intervals.WorkloadReady, Poll: cfg.Intervals.Poll}, Log: log}); err != nil {
		return err
	}
	step("workload", t)
	clients, err := kube.ReadyPods(ctx, h.Client, ns, workload.ClientSelector)
	if err != nil {
		return err
	}
	apps, err := kube.ReadyPods(ctx, h.Client, ns, workload.AppSelector)
	if err != nil {
		return err
	}
	svc, err := h.Client.CoreV1().Services(ns).Get(ctx, workload.Service, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("[%s] get service %s/%s: %w", smokeCluster, ns, workload.Service, err)
	}
	ex := kube.NewExecer(h.REST)
	client := clients[0].Name
	title := manifests.Title(c.ID)
	fqdn := fmt.Sprintf("%s.%s.svc.cluster.local", workload.Service, ns)
	checks := []struct {
		what string
		cmd  []string
		want string
	}{
		{"CoreDNS answers " + fqdn, []string{"getent", "hosts", fqdn}, svc.Spec.ClusterIP},
		{"pod to pod " + apps[0].Status.PodIP, curl(fmt.Sprintf("http://%s:8080/", apps[0].Status.PodIP), cfg.Intervals.Request), title},
		{"pod to service " + fqdn, curl("http://"+fqdn+"/", cfg.Intervals.Request), title},
	}
	for _, ch := range checks {
		t = time.Now()
		err := kube.Poll(ctx, cfg.Intervals.WorkloadReady, cfg.Intervals.Poll, func(ctx context.Context) error {
			out, _, err := ex.Exec(ctx, kube.ExecInput{Namespace: ns, Pod: client, Command: ch.cmd})
			if err != nil {
				return err
			}
			if !strings.Contains(string(out), ch.want) {
				return fmt.Errorf("output %q lacks %q", firstLine(string(out)), ch.want)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("[%s] %s: %w", smokeCluster, ch.what, err)
		}
		step(ch.what, t)
	}
	fmt.Fprintf(log, "[%s] lab smoke passed in %s\n", smokeCluster, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func curl(url string, timeout time.Duration) []string {
	return []string{"curl", "-sS", "--max-time", fmt.Sprint(int(max(timeout, time.Second).Seconds())), url}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
