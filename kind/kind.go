// Package kind holds the suite's kind cluster configs (kind/cluster-N.yaml,
// embedded) and maps them onto a config.Config, so that a kind cluster's pod
// and service subnets go through the same Validate as everything else. The
// configs are read with kind's own v1alpha4 types, strictly: a misspelt key
// is an error, not a silently ignored line.
package kind

import (
	"embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

//go:embed cluster-1.yaml cluster-2.yaml cluster-3.yaml
var embedded embed.FS

// embeddedNames are the embedded configs, in cluster order.
var embeddedNames = []string{"cluster-1.yaml", "cluster-2.yaml", "cluster-3.yaml"}

// Dir is the repository directory the configs live in; File.Path of an
// embedded config is Dir + "/" + its name, as a person would type it.
const Dir = "kind"

const (
	apiVersion = "kind.x-k8s.io/v1alpha4"
	kindKind   = "Cluster"
	// proxyModeNone is what kind accepts to skip kube-proxy; v1alpha4 has no
	// constant for it.
	proxyModeNone v1alpha4.ProxyMode = "none"
)

// File is one kind cluster config and where it came from.
type File struct {
	// Path names the file in messages: "kind/cluster-2.yaml" when embedded.
	Path string
	// Cluster is the config, ready for kind's cluster.CreateWithV1Alpha4Config.
	Cluster *v1alpha4.Cluster
}

// Embedded returns the three configs shipped in kind/, in cluster order.
func Embedded() ([]File, error) {
	files := make([]File, 0, len(embeddedNames))
	for _, name := range embeddedNames {
		f, err := readEmbedded(name)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func readEmbedded(name string) (File, error) {
	data, err := embedded.ReadFile(name)
	if err != nil {
		return File{}, fmt.Errorf("read embedded kind config %s: %w", name, err)
	}
	return Parse(path.Join(Dir, name), data)
}

// Read reads a kind config from disk. A path naming one of the embedded
// configs (kind/cluster-N.yaml) is served from the embedded copy, which is
// that same file as of the build, so it works from any working directory.
func Read(p string) (File, error) {
	for _, name := range embeddedNames {
		if p == path.Join(Dir, name) {
			return readEmbedded(name)
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return File{}, fmt.Errorf("read kind config: %w", err)
	}
	return Parse(p, data)
}

// Parse decodes a kind config strictly (unknown keys are errors) into kind's
// v1alpha4 types and checks its apiVersion and kind. It does not judge the
// content: see Check and Apply.
func Parse(p string, data []byte) (File, error) {
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return File{}, fmt.Errorf("%s is not a valid kind config (apiVersion %s, kind %s): %w", p, apiVersion, kindKind, err)
	}
	if c.APIVersion != apiVersion || c.Kind != kindKind {
		return File{}, fmt.Errorf("%s has apiVersion %q, kind %q: want apiVersion %s, kind %s",
			p, c.APIVersion, c.Kind, apiVersion, kindKind)
	}
	return File{Path: p, Cluster: &c}, nil
}

// Check refuses a config that would fight Cilium: kind's default CNI
// (kindnet) or kube-proxy enabled, or a family other than IPv4.
func (f File) Check() error {
	n := f.Cluster.Networking
	var errs []error
	if !n.DisableDefaultCNI {
		errs = append(errs, fmt.Errorf("%s networking.disableDefaultCNI is false: kind would install kindnet beside Cilium; set disableDefaultCNI: true", f.Path))
	}
	if n.KubeProxyMode != proxyModeNone {
		mode := string(n.KubeProxyMode)
		if mode == "" {
			mode = "unset, which kind runs as iptables"
		}
		errs = append(errs, fmt.Errorf("%s networking.kubeProxyMode is %s: Cilium replaces kube-proxy in this suite; set kubeProxyMode: none", f.Path, mode))
	}
	if n.IPFamily != "" && n.IPFamily != v1alpha4.IPv4Family {
		errs = append(errs, fmt.Errorf("%s networking.ipFamily is %s: this suite runs IPv4 only; remove ipFamily or set it to ipv4", f.Path, n.IPFamily))
	}
	return errors.Join(errs...)
}

// Apply maps each cluster's kind config onto cfg and validates the result
// with cfg's own Validate. Cluster i uses cfg.Clusters[i].KindConfig when
// set, else the embedded kind/cluster-<i+1>.yaml. A name or subnet that is
// empty in cfg is taken from the file; one that is set must agree with it.
// It returns the updated config and the files (for creating the clusters),
// and one error listing every problem.
func Apply(cfg config.Config) (config.Config, []File, error) {
	out := cfg
	out.Clusters = append([]config.Cluster(nil), cfg.Clusters...)
	files := make([]File, len(out.Clusters))
	var errs []error
	for i := range out.Clusters {
		cl := &out.Clusters[i]
		p := cl.KindConfig
		if p == "" {
			if i >= len(embeddedNames) {
				errs = append(errs, fmt.Errorf("clusters[%d] (%s) has no kind config: only %d are shipped in %s/; give one per cluster with -e2e.kind-configs / KIND_CONFIGS",
					i, cl.Name, len(embeddedNames), Dir))
				continue
			}
			p = path.Join(Dir, embeddedNames[i])
		}
		f, err := Read(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("clusters[%d]: %w", i, err))
			continue
		}
		if err := f.Check(); err != nil {
			errs = append(errs, err)
		}
		if err := mapCluster(i, cl, &f, cfg.Provider); err != nil {
			errs = append(errs, err)
		}
		files[i] = f
	}
	if err := out.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return out, files, fmt.Errorf("kind configs:\n%w", errors.Join(errs...))
	}
	return out, files, nil
}

// mapCluster copies name and subnets between one file and one cluster.
func mapCluster(i int, cl *config.Cluster, f *File, provider config.Provider) error {
	var errs []error
	field := fmt.Sprintf("clusters[%d]", i)
	switch {
	case f.Cluster.Name == "" && cl.Name == "":
		errs = append(errs, fmt.Errorf("%s.name is empty and %s has no name: set name: in the file or pass -e2e.cluster-names", field, f.Path))
	case f.Cluster.Name == "":
		// kind would call it "kind"; the suite names it.
		c := *f.Cluster
		c.Name = cl.Name
		f.Cluster = &c
	case cl.Name == "":
		cl.Name = f.Cluster.Name
	case cl.Name != f.Cluster.Name:
		errs = append(errs, fmt.Errorf("%s.name %q differs from %s name %q: make them agree (edit the file, or -e2e.cluster-names)",
			field, cl.Name, f.Path, f.Cluster.Name))
	}
	subnet := func(key, cfgField, flag, value string, dst *netip.Prefix, kindDefault string) {
		if value == "" {
			errs = append(errs, fmt.Errorf("%s networking.%s is empty: kind would use %s in every cluster; give each cluster its own range",
				f.Path, key, kindDefault))
			return
		}
		p, err := netip.ParsePrefix(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s networking.%s %q is not one IPv4 CIDR: write e.g. 10.1.0.0/16", f.Path, key, value))
			return
		}
		switch {
		case !dst.IsValid():
			*dst = p
		case *dst != p:
			errs = append(errs, fmt.Errorf("%s.%s %s (%s) differs from %s networking.%s %s: the kind config sets the cluster's range; make them agree",
				field, cfgField, *dst, flag, f.Path, key, p))
		}
	}
	subnet("podSubnet", "podCIDR", "-e2e.pod-cidrs", f.Cluster.Networking.PodSubnet, &cl.PodCIDR, "10.244.0.0/16")
	subnet("serviceSubnet", "serviceCIDR", "-e2e.service-cidrs", f.Cluster.Networking.ServiceSubnet, &cl.ServiceCIDR, "10.96.0.0/16")
	cl.KindConfig = f.Path
	if provider == config.ProviderKind && cl.Context == "" && cl.Name != "" {
		cl.Context = config.KindContext(cl.Name)
	}
	return errors.Join(errs...)
}

// Check reads and checks the kind configs a kind run would create its
// clusters from (files only; nothing is started); other providers have none.
func Check(c config.Config) error {
	if c.Provider != config.ProviderKind {
		return nil
	}
	_, _, err := Apply(c)
	return err
}
