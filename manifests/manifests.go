// Package manifests holds the workload's YAML, embedded, and renders it per
// cluster. The YAML stays readable on its own; the few values that differ per
// cluster or per image source are template fields.
package manifests

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"text/template"
	"time"

	"sigs.k8s.io/e2e-framework/klient/decoder"
	"sigs.k8s.io/e2e-framework/klient/k8s"
)

// ManagedBy is the value of app.kubernetes.io/managed-by on everything the
// suite creates; deletion only ever selects on it.
const ManagedBy = "clustermesh-e2e"

// ManagedByLabel is the label key carrying ManagedBy.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// RunIDAnnotation records the run that created (or last updated) an object.
// Every object here carries it; on a namespace its presence is what proves
// the suite created the namespace (kube.CreatedNamespace).
const RunIDAnnotation = "clustermesh-e2e.io/run-id"

// SpecAnnotation names the spec that owns a backend deployment or a
// service ("suite" for the shared ones): who may change it during a run.
const SpecAnnotation = "clustermesh-e2e.io/spec"

// Backend is one helloworld deployment; its pods carry app=<Name>.
type Backend struct {
	Name, Owner string
	// Lifecycle: its spec turns its pods' readiness off and on and deletes
	// them; they keep accepting new connections for Params.TerminatingServe
	// after SIGTERM (SERVE_AFTER_SIGTERM) and get a grace period that
	// covers it (Params.GracePeriod).
	Lifecycle bool

	// Port is the port its server listens on; 0 is Params.ContainerPort.
	// Another port is passed to the server as PORT (the images built here
	// read it).
	Port int
}

// Service is one global service selecting the pods of Backend.
type Service struct {
	Name, Backend, Owner string
	// Ports are the service's ports, in order; empty is the suite's usual
	// one: "http", 80, to Params.ContainerPort.
	Ports []ServicePort
	// Annotations are written after service.cilium.io/global: "true",
	// sorted by key (the seed's Service also says shared: "true").
	Annotations map[string]string
	// Local leaves the service without Cilium's global annotation: it is
	// answered by its own cluster only, unless exported through MCS-API.
	Local bool
}

// ServicePort is one port of a Service.
type ServicePort struct {
	// Name may be empty for a service's only port (the seed's is unnamed).
	Name string
	Port int
	// TargetPort 0 writes no targetPort: Kubernetes then uses Port.
	TargetPort int
}

// Files in the order they are applied: the namespace first.
var Files = []string{"namespace.yaml", "helloworld.yaml", "client.yaml"}

//go:embed *.yaml
var files embed.FS

// Params are the per-cluster values of the templates.
type Params struct {
	Namespace   string
	ClusterName string
	// RunID is written to every object's RunIDAnnotation (config.RunID).
	RunID string
	// Title is the helloworld page title (TITLE), naming the cluster.
	Title           string
	HelloworldImage string
	ClientImage     string
	// ClientCommand overrides the client image's command; empty keeps the
	// image's own (tini running sleep).
	ClientCommand []string
	PullPolicy    string
	Replicas      int
	ContainerPort int
	ReadinessPath string
	// TerminationGracePeriodSeconds bounds a helloworld pod's shutdown.
	TerminationGracePeriodSeconds int
	// TerminatingServe is how long a Lifecycle backend's pods keep accepting
	// new connections after SIGTERM (config.Intervals.TerminatingServe).
	TerminatingServe time.Duration
	// Backends and Services are rendered one object each (the workload's
	// list); DefaultParams has the shared helloworld pair only.
	Backends []Backend
	Services []Service
}

// Title is the helloworld page title of the cluster with the given ID, as the
// seed's app prints it.
func Title(id int) string {
	return fmt.Sprintf("Welcome to Azure Kubernetes Service (AKS) 'helloworld' on cluster %d", id)
}

// DefaultParams are the values for cluster name/id with the images built here.
func DefaultParams(namespace, cluster string, id int) Params {
	return Params{
		Namespace:                     namespace,
		ClusterName:                   cluster,
		Title:                         Title(id),
		HelloworldImage:               "localhost/clustermesh-e2e/helloworld:v1",
		ClientImage:                   "localhost/clustermesh-e2e/client:v1",
		PullPolicy:                    "IfNotPresent",
		Replicas:                      1,
		ContainerPort:                 8080,
		ReadinessPath:                 "/healthz",
		TerminationGracePeriodSeconds: 10,
		TerminatingServe:              10 * time.Second,
		Backends:                      []Backend{{Name: "helloworld", Owner: "suite"}},
		Services:                      []Service{{Name: "helloworld", Backend: "helloworld", Owner: "suite"}},
	}
}

// ManagedBy lets the templates write the label value.
func (Params) ManagedBy() string { return ManagedBy }

// GracePeriod is a backend's pods' terminationGracePeriodSeconds: a
// Lifecycle backend's serve window (whole seconds, rounded up) comes on top
// of the drain every backend gets.
func (p Params) GracePeriod(b Backend) int {
	if !b.Lifecycle {
		return p.TerminationGracePeriodSeconds
	}
	return p.TerminationGracePeriodSeconds + int((p.TerminatingServe+time.Second-1)/time.Second)
}

// BackendPort is the port b's server listens on.
func (p Params) BackendPort(b Backend) int {
	if b.Port == 0 {
		return p.ContainerPort
	}
	return b.Port
}

// ListenEnv is the PORT b's server must be told, 0 when it listens on the
// run's ContainerPort anyway (the image's default; upstream's app listens
// on 80 and reads no PORT).
func (p Params) ListenEnv(b Backend) int {
	if b.Port == 0 || b.Port == p.ContainerPort {
		return 0
	}
	return b.Port
}

// UnprivilegedFrom is the lowest port b's non-root server must be allowed
// to bind (net.ipv4.ip_unprivileged_port_start), 0 when nothing is needed.
func (p Params) UnprivilegedFrom(b Backend) int {
	if port := p.ListenEnv(b); port > 0 && port < 1024 {
		return port
	}
	return 0
}

func (p Params) validate() error {
	switch {
	case p.Namespace == "":
		return fmt.Errorf("manifests: empty namespace")
	case p.ClusterName == "":
		return fmt.Errorf("manifests: empty cluster name")
	case p.HelloworldImage == "" || p.ClientImage == "":
		return fmt.Errorf("[%s] manifests: helloworld and client images must be set", p.ClusterName)
	case p.ContainerPort <= 0 || p.ContainerPort > 65535:
		return fmt.Errorf("[%s] manifests: container port %d out of range", p.ClusterName, p.ContainerPort)
	case p.Replicas < 0:
		return fmt.Errorf("[%s] manifests: negative replicas %d", p.ClusterName, p.Replicas)
	}
	backends := map[string]bool{}
	for _, b := range p.Backends {
		if b.Name == "" || backends[b.Name] {
			return fmt.Errorf("[%s] manifests: backend name %q empty or repeated", p.ClusterName, b.Name)
		}
		if b.Lifecycle && p.TerminatingServe <= 0 {
			return fmt.Errorf("[%s] manifests: backend %s keeps serving after SIGTERM, but the serve window %v is not positive (intervals.terminating-serve)", p.ClusterName, b.Name, p.TerminatingServe)
		}
		if b.Port < 0 || b.Port > 65535 {
			return fmt.Errorf("[%s] manifests: backend %s: port %d out of range", p.ClusterName, b.Name, b.Port)
		}
		backends[b.Name] = true
	}
	services := map[string]bool{}
	for _, s := range p.Services {
		switch {
		case s.Name == "" || services[s.Name]:
			return fmt.Errorf("[%s] manifests: service name %q empty or repeated", p.ClusterName, s.Name)
		case !backends[s.Backend]:
			return fmt.Errorf("[%s] manifests: service %s selects backend %q, which is not rendered", p.ClusterName, s.Name, s.Backend)
		}
		if err := validPorts(s.Ports); err != nil {
			return fmt.Errorf("[%s] manifests: service %s: %w", p.ClusterName, s.Name, err)
		}
		services[s.Name] = true
	}
	return nil
}

// validPorts checks what the API server would refuse: ports out of range,
// a repeated port or name, an unnamed port beside others.
func validPorts(ports []ServicePort) error {
	names, numbers := map[string]bool{}, map[int]bool{}
	for _, sp := range ports {
		switch {
		case sp.Port <= 0 || sp.Port > 65535 || sp.TargetPort < 0 || sp.TargetPort > 65535:
			return fmt.Errorf("port %d (target %d) out of range", sp.Port, sp.TargetPort)
		case numbers[sp.Port]:
			return fmt.Errorf("port %d repeated", sp.Port)
		case sp.Name == "" && len(ports) > 1:
			return fmt.Errorf("port %d has no name beside other ports", sp.Port)
		case sp.Name != "" && names[sp.Name]:
			return fmt.Errorf("port name %q repeated", sp.Name)
		}
		names[sp.Name], numbers[sp.Port] = true, true
	}
	return nil
}

// Render executes one embedded template with p.
func Render(name string, p Params) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	t, err := template.New(name).Option("missingkey=error").ParseFS(files, name)
	if err != nil {
		return nil, fmt.Errorf("[%s] manifests: parse %s: %w", p.ClusterName, name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("[%s] manifests: render %s: %w", p.ClusterName, name, err)
	}
	return b.Bytes(), nil
}

// Objects renders every file and decodes it into typed objects (Namespace,
// Deployment, Service, ...), in apply order.
func Objects(ctx context.Context, p Params) ([]k8s.Object, error) {
	var out []k8s.Object
	for _, name := range Files {
		raw, err := Render(name, p)
		if err != nil {
			return nil, err
		}
		objs, err := decoder.DecodeAll(ctx, bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("[%s] manifests: decode %s: %w", p.ClusterName, name, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}
