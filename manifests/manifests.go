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
}

// Service is one global service selecting the pods of Backend.
type Service struct {
	Name, Backend, Owner string
	// Local leaves the service without Cilium's global annotation: it is
	// answered by its own cluster only, unless exported through MCS-API.
	Local bool
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
		Backends:                      []Backend{{Name: "helloworld", Owner: "suite"}},
		Services:                      []Service{{Name: "helloworld", Backend: "helloworld", Owner: "suite"}},
	}
}

// ManagedBy lets the templates write the label value.
func (Params) ManagedBy() string { return ManagedBy }

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
		services[s.Name] = true
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
