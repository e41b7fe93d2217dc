package manifests

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestObjects(t *testing.T) {
	tests := []struct {
		name    string
		params  Params
		check   func(t *testing.T, ns *corev1.Namespace, hw *appsv1.Deployment, svc *corev1.Service, cl *appsv1.Deployment)
		wantErr string
	}{
		{
			name:   "cluster-2 with images built here",
			params: DefaultParams("meshtest", "cluster-2", 2),
			check: func(t *testing.T, ns *corev1.Namespace, hw *appsv1.Deployment, svc *corev1.Service, cl *appsv1.Deployment) {
				c := hw.Spec.Template.Spec.Containers[0]
				if got := envValue(c.Env, "TITLE"); got != "Welcome to Azure Kubernetes Service (AKS) 'helloworld' on cluster 2" {
					t.Errorf("TITLE = %q", got)
				}
				if c.Image != "localhost/clustermesh-e2e/helloworld:v1" {
					t.Errorf("helloworld image = %q", c.Image)
				}
				if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Port.IntValue() != 8080 {
					t.Errorf("readiness probe = %+v", c.ReadinessProbe)
				}
				if g := hw.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 10 {
					t.Errorf("terminationGracePeriodSeconds = %v", g)
				}
				if svc.Annotations["service.cilium.io/global"] != "true" {
					t.Errorf("service annotations = %v", svc.Annotations)
				}
				if p := svc.Spec.Ports[0]; p.Port != 80 || p.TargetPort.IntValue() != 8080 {
					t.Errorf("service port = %+v", p)
				}
				if s := cl.Spec.Template.Spec.ShareProcessNamespace; s == nil || !*s {
					t.Errorf("client shareProcessNamespace = %v, want true", s)
				}
				if cmd := cl.Spec.Template.Spec.Containers[0].Command; len(cmd) != 0 {
					t.Errorf("client command = %q, want the image's own (tini)", cmd)
				}
				if ns.Name != "meshtest" || hw.Namespace != "meshtest" || svc.Namespace != "meshtest" || cl.Namespace != "meshtest" {
					t.Errorf("namespaces: %s %s %s %s", ns.Name, hw.Namespace, svc.Namespace, cl.Namespace)
				}
			},
		},
		{
			name: "upstream images with a client command",
			params: func() Params {
				p := DefaultParams("other", "cluster-3", 3)
				p.HelloworldImage = "example.org/hello:v9"
				p.ClientCommand = []string{"sleep", "infinity"}
				p.ContainerPort = 80
				p.ReadinessPath = "/"
				return p
			}(),
			check: func(t *testing.T, ns *corev1.Namespace, hw *appsv1.Deployment, svc *corev1.Service, cl *appsv1.Deployment) {
				if got := cl.Spec.Template.Spec.Containers[0].Command; strings.Join(got, " ") != "sleep infinity" {
					t.Errorf("client command = %q", got)
				}
				if hw.Spec.Template.Spec.Containers[0].Image != "example.org/hello:v9" {
					t.Errorf("image = %q", hw.Spec.Template.Spec.Containers[0].Image)
				}
				if svc.Spec.Ports[0].TargetPort.IntValue() != 80 {
					t.Errorf("targetPort = %v", svc.Spec.Ports[0].TargetPort)
				}
				if envValue(hw.Spec.Template.Spec.Containers[0].Env, "TITLE") != Title(3) {
					t.Errorf("TITLE wrong")
				}
			},
		},
		{
			name:    "missing namespace",
			params:  DefaultParams("", "cluster-1", 1),
			wantErr: "empty namespace",
		},
		{
			name: "bad port",
			params: func() Params {
				p := DefaultParams("meshtest", "cluster-1", 1)
				p.ContainerPort = 70000
				return p
			}(),
			wantErr: "[cluster-1] manifests: container port 70000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.params.RunID = "20261204-123456-ab12"
			objs, err := Objects(context.Background(), tt.params)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var (
				ns      *corev1.Namespace
				hw, cl  *appsv1.Deployment
				svc     *corev1.Service
				managed int
			)
			for _, o := range objs {
				if o.GetLabels()[ManagedByLabel] == ManagedBy {
					managed++
				}
				if got := o.GetAnnotations()[RunIDAnnotation]; got != tt.params.RunID {
					t.Errorf("%T %s: %s = %q, want %q", o, o.GetName(), RunIDAnnotation, got, tt.params.RunID)
				}
				switch v := o.(type) {
				case *corev1.Namespace:
					ns = v
				case *corev1.Service:
					svc = v
				case *appsv1.Deployment:
					if v.Spec.Template.Labels[ManagedByLabel] != ManagedBy {
						t.Errorf("%s: pod template lacks the managed-by label", v.Name)
					}
					switch v.Name {
					case "helloworld":
						hw = v
					case "client":
						cl = v
					}
				default:
					t.Errorf("unexpected object %T", o)
				}
			}
			if ns == nil || hw == nil || svc == nil || cl == nil {
				t.Fatalf("objects missing: ns=%v helloworld=%v service=%v client=%v", ns != nil, hw != nil, svc != nil, cl != nil)
			}
			if managed != len(objs) {
				t.Errorf("%d of %d objects carry %s=%s", managed, len(objs), ManagedByLabel, ManagedBy)
			}
			if _, ok := objs[0].(*corev1.Namespace); !ok {
				t.Errorf("first object is %T, want the namespace", objs[0])
			}
			tt.check(t, ns, hw, svc, cl)
		})
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// Every backend and service of the list is rendered as its own object,
// each marked, each service selecting its backend's pods.
func TestObjectsPerListEntry(t *testing.T) {
	p := DefaultParams("meshtest", "cluster-1", 1)
	p.RunID = "run-3"
	p.Backends = []Backend{{Name: "helloworld", Owner: "suite"}, {Name: "hw-affinity-local", Owner: "affinity-local"}}
	p.Services = []Service{{Name: "helloworld", Backend: "helloworld", Owner: "suite"},
		{Name: "hw-shared", Backend: "helloworld", Owner: "shared"},
		{Name: "hw-affinity-local", Backend: "hw-affinity-local", Owner: "affinity-local"},
		{Name: "hw-mcs", Backend: "helloworld", Owner: "mcs", Local: true}}
	objs, err := Objects(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range objs {
		if o.GetLabels()[ManagedByLabel] != ManagedBy || o.GetAnnotations()[RunIDAnnotation] != "run-3" {
			t.Errorf("%T %s not marked: %v %v", o, o.GetName(), o.GetLabels(), o.GetAnnotations())
		}
		switch v := o.(type) {
		case *appsv1.Deployment:
			got["deployment/"+v.Name] = v.Annotations[SpecAnnotation] + " app=" + v.Spec.Template.Labels["app"]
		case *corev1.Service:
			got["service/"+v.Name] = v.Annotations[SpecAnnotation] + " app=" + v.Spec.Selector["app"] + " global=" + v.Annotations["service.cilium.io/global"]
		}
	}
	want := map[string]string{
		"deployment/helloworld":        "suite app=helloworld",
		"deployment/hw-affinity-local": "affinity-local app=hw-affinity-local",
		"deployment/client":            " app=client",
		"service/helloworld":           "suite app=helloworld global=true",
		"service/hw-shared":            "shared app=helloworld global=true",
		"service/hw-affinity-local":    "affinity-local app=hw-affinity-local global=true",
		"service/hw-mcs":               "mcs app=helloworld global=",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("objects %v, want %v", got, want)
	}
}

func TestListValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Params){
		"repeated backend": func(p *Params) { p.Backends = append(p.Backends, p.Backends[0]) },
		"repeated service": func(p *Params) { p.Services = append(p.Services, p.Services[0]) },
		"unknown backend":  func(p *Params) { p.Services[0].Backend = "nowhere" },
	} {
		p := DefaultParams("meshtest", "cluster-1", 1)
		mutate(&p)
		if _, err := Objects(context.Background(), p); err == nil || !strings.Contains(err.Error(), "[cluster-1] manifests:") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
