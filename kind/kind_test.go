package kind

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

func TestEmbeddedMatchDefaults(t *testing.T) {
	files, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d embedded configs, want 3", len(files))
	}
	for i, f := range files {
		if err := f.Check(); err != nil {
			t.Errorf("%s: %v", f.Path, err)
		}
		if want := "kind/cluster-" + string(rune('1'+i)) + ".yaml"; f.Path != want {
			t.Errorf("files[%d].Path = %s, want %s", i, f.Path, want)
		}
		if n := len(f.Cluster.Nodes); n != 1 || f.Cluster.Nodes[0].Role != "control-plane" {
			t.Errorf("%s nodes = %+v, want one control-plane", f.Path, f.Cluster.Nodes)
		}
	}

	got, applied, err := Apply(config.Default())
	if err != nil {
		t.Fatalf("Apply(Default()) = %v", err)
	}
	want := config.Default()
	for i := range want.Clusters {
		want.Clusters[i].KindConfig = files[i].Path
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply(Default()) changed more than KindConfig:\n got %+v\nwant %+v", got.Clusters, want.Clusters)
	}
	for i, f := range applied {
		if f.Cluster.Name != want.Clusters[i].Name {
			t.Errorf("applied[%d] name %q, want %q", i, f.Cluster.Name, want.Clusters[i].Name)
		}
	}
}

// With names and ranges left empty (as -e2e.kind-configs leaves them), the
// files fill them in.
func TestApplyFillsFromFiles(t *testing.T) {
	cfg := config.Default()
	for i := range cfg.Clusters {
		cfg.Clusters[i].Name = ""
		cfg.Clusters[i].Context = ""
		cfg.Clusters[i].PodCIDR = netip.Prefix{}
		cfg.Clusters[i].ServiceCIDR = netip.Prefix{}
	}
	got, _, err := Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	for i := range want.Clusters {
		want.Clusters[i].KindConfig = filepath.ToSlash(filepath.Join("kind", want.Clusters[i].Name+".yaml"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got.Clusters, want.Clusters)
	}
}

// An unnamed file takes the config's name, so kind does not call it "kind".
func TestApplyNamesUnnamedFile(t *testing.T) {
	path := variant(t, 2, "name: cluster-2\n", "")
	cfg := config.Default()
	cfg.Clusters[1].KindConfig = path
	_, files, err := Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if files[1].Cluster.Name != "cluster-2" {
		t.Errorf("unnamed file got name %q, want cluster-2", files[1].Cluster.Name)
	}
}

// variant writes embedded cluster-n.yaml with old replaced by new and
// returns its path. It fails when old is absent, so a variant cannot
// silently test the unchanged file.
func variant(t *testing.T, n int, old, new string) string {
	t.Helper()
	name := "cluster-" + string(rune('0'+n)) + ".yaml"
	data, err := embedded.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyRefuses(t *testing.T) {
	tests := []struct {
		name   string
		n      int // cluster-n.yaml to vary
		old    string
		new    string
		mutate func(*config.Config)
		want   []string
	}{
		{name: "pod subnet overlaps another cluster's", n: 2, old: "podSubnet: 10.2.0.0/16", new: "podSubnet: 10.1.0.0/16",
			mutate: func(c *config.Config) { c.Clusters[1].PodCIDR = netip.Prefix{} },
			want:   []string{"clusters[1].podCIDR 10.1.0.0/16 overlaps clusters[0].podCIDR 10.1.0.0/16", "cluster-2.yaml networking.podSubnet"}},
		{name: "service subnet overlaps a pod subnet", n: 3, old: "serviceSubnet: 10.103.0.0/16", new: "serviceSubnet: 10.2.0.0/16",
			mutate: func(c *config.Config) { c.Clusters[2].ServiceCIDR = netip.Prefix{} },
			want:   []string{"clusters[2].serviceCIDR 10.2.0.0/16 overlaps clusters[1].podCIDR", "cluster-3.yaml networking.serviceSubnet"}},
		{name: "pod subnet in the node network", n: 1, old: "podSubnet: 10.1.0.0/16", new: "podSubnet: 172.18.0.0/16",
			mutate: func(c *config.Config) { c.Clusters[0].PodCIDR = netip.Prefix{} },
			want:   []string{"clusters[0].podCIDR 172.18.0.0/16 overlaps nodeNetwork"}},
		{name: "default CNI enabled", n: 1, old: "disableDefaultCNI: true", new: "disableDefaultCNI: false",
			want: []string{"cluster-1.yaml networking.disableDefaultCNI is false", "set disableDefaultCNI: true"}},
		{name: "default CNI not disabled", n: 1, old: "  disableDefaultCNI: true\n", new: "",
			want: []string{"networking.disableDefaultCNI is false"}},
		{name: "kube-proxy iptables", n: 2, old: "kubeProxyMode: none", new: "kubeProxyMode: iptables",
			want: []string{"cluster-2.yaml networking.kubeProxyMode is iptables", "set kubeProxyMode: none"}},
		{name: "kube-proxy unset", n: 2, old: "  kubeProxyMode: none\n", new: "",
			want: []string{"networking.kubeProxyMode is unset"}},
		{name: "IPv6 family", n: 3, old: "networking:\n", new: "networking:\n  ipFamily: ipv6\n",
			want: []string{"cluster-3.yaml networking.ipFamily is ipv6"}},
		{name: "misspelt key", n: 1, old: "kubeProxyMode:", new: "kubeProxy:",
			want: []string{"cluster-1.yaml is not a valid kind config", "kubeProxy"}},
		{name: "wrong apiVersion", n: 1, old: "kind.x-k8s.io/v1alpha4", new: "kind.x-k8s.io/v1alpha3",
			want: []string{`apiVersion "kind.x-k8s.io/v1alpha3"`}},
		{name: "wrong kind", n: 1, old: "kind: Cluster", new: "kind: Node",
			want: []string{`kind "Node"`}},
		{name: "pod subnet missing", n: 2, old: "  podSubnet: 10.2.0.0/16\n", new: "",
			mutate: func(c *config.Config) { c.Clusters[1].PodCIDR = netip.Prefix{} },
			want:   []string{"cluster-2.yaml networking.podSubnet is empty", "10.244.0.0/16"}},
		{name: "pod subnet not a CIDR", n: 2, old: "podSubnet: 10.2.0.0/16", new: "podSubnet: 10.2.0.0/16,fd00::/48",
			want: []string{`networking.podSubnet "10.2.0.0/16,fd00::/48" is not one IPv4 CIDR`}},
		{name: "pod subnet disagrees with the config", n: 2, old: "podSubnet: 10.2.0.0/16", new: "podSubnet: 10.9.0.0/16",
			want: []string{"clusters[1].podCIDR 10.2.0.0/16 (-e2e.pod-cidrs) differs from", "networking.podSubnet 10.9.0.0/16"}},
		{name: "name disagrees with the config", n: 3, old: "name: cluster-3", new: "name: east",
			want: []string{`clusters[2].name "cluster-3" differs from`, `name "east"`}},
		{name: "bad name from the file", n: 3, old: "name: cluster-3", new: "name: Cluster_3",
			mutate: func(c *config.Config) { c.Clusters[2].Name = ""; c.Clusters[2].Context = "" },
			want:   []string{`clusters[2].name "Cluster_3"`, "cluster-3.yaml name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Clusters[tt.n-1].KindConfig = variant(t, tt.n, tt.old, tt.new)
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			_, _, err := Apply(cfg)
			if err == nil {
				t.Fatalf("Apply = nil, want an error mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestApplyMoreClustersThanFiles(t *testing.T) {
	cfg := config.Default()
	cfg.ExpectedClusters = 4
	cfg.Clusters = append(cfg.Clusters, config.Cluster{Name: "cluster-4", ID: 4, Context: "kind-cluster-4"})
	_, _, err := Apply(cfg)
	if err == nil || !strings.Contains(err.Error(), "clusters[3] (cluster-4) has no kind config") {
		t.Fatalf("Apply = %v, want 'clusters[3] (cluster-4) has no kind config'", err)
	}
}

func TestReadMissingFile(t *testing.T) {
	cfg := config.Default()
	cfg.Clusters[0].KindConfig = filepath.Join(t.TempDir(), "nope.yaml")
	if _, _, err := Apply(cfg); err == nil || !strings.Contains(err.Error(), "clusters[0]: read kind config") {
		t.Fatalf("Apply = %v, want a read error for clusters[0]", err)
	}
}
