package manifests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// shapeParams renders the suite's usual pair and one affinity backend,
// as before services had ports and annotations of their own.
func shapeParams() Params {
	p := DefaultParams("meshtest", "cluster-2", 2)
	p.RunID = "20261204-123456-ab12"
	p.Backends = []Backend{{Name: "helloworld", Owner: "suite"}, {Name: "hw-affinity-local", Owner: "affinity-local"}}
	p.Services = []Service{{Name: "helloworld", Backend: "helloworld", Owner: "suite"}, {Name: "hw-affinity-local", Backend: "hw-affinity-local", Owner: "affinity-local"}}
	return p
}

// The existing services and backends render byte for byte as they did
// before ports, annotations and backend ports became per entry: with the
// template's default port, and with that port written out as the workload
// now always writes it.
func TestExistingShapesUnchanged(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "helloworld-default.yaml.golden"))
	if err != nil {
		t.Fatal(err)
	}
	implicit := shapeParams()
	explicit := shapeParams()
	for i := range explicit.Services {
		explicit.Services[i].Ports = []ServicePort{{Name: "http", Port: 80, TargetPort: 8080}}
	}
	explicit.Backends[1].Port = 8080 // the run's port, said twice
	for name, p := range map[string]Params{"implicit port": implicit, "explicit port": explicit} {
		got, err := Render("helloworld.yaml", p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: the rendered YAML changed:\n%s", name, lineDiff(string(want), string(got)))
		}
	}
}

// lineDiff shows the first differing line of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d: want %q, got %q", i+1, wl, gl)
		}
	}
	return "(same lines)"
}

// objectsNamed renders p and returns its deployment and service called name.
func objectsNamed(t *testing.T, p Params, name string) (*appsv1.Deployment, *corev1.Service) {
	t.Helper()
	objs, err := Objects(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var (
		d *appsv1.Deployment
		s *corev1.Service
	)
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			if v.Name == name {
				d = v
			}
		case *corev1.Service:
			if v.Name == name {
				s = v
			}
		}
	}
	return d, s
}

// The seed's Service: one unnamed port 80, no targetPort, global and
// shared "true"; its backend listens on 80 as a non-root user.
func TestSeedShape(t *testing.T) {
	for _, tt := range []struct {
		name     string
		port     int // the run's container port
		wantEnv  string
		wantCtl  bool
		wantBind int
	}{
		{"images built here (8080)", 8080, "80", true, 80},
		{"upstream's app (80)", 80, "", false, 80},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams("meshtest", "cluster-1", 1)
			p.ContainerPort = tt.port
			p.Backends = append(p.Backends, Backend{Name: "hw-seed", Owner: "seed", Port: 80})
			p.Services = append(p.Services, Service{Name: "hw-seed", Backend: "hw-seed", Owner: "seed",
				Ports: []ServicePort{{Port: 80}}, Annotations: map[string]string{"service.cilium.io/shared": "true"}})
			d, s := objectsNamed(t, p, "hw-seed")
			if d == nil || s == nil {
				t.Fatalf("deployment %v, service %v", d != nil, s != nil)
			}
			if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "" || s.Spec.Ports[0].Port != 80 || s.Spec.Ports[0].TargetPort.IntValue() != 0 ||
				s.Spec.Selector["app"] != "hw-seed" || s.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("seed service spec = %+v", s.Spec)
			}
			if s.Annotations["service.cilium.io/global"] != "true" || s.Annotations["service.cilium.io/shared"] != "true" {
				t.Errorf("seed service annotations = %v", s.Annotations)
			}
			c := d.Spec.Template.Spec.Containers[0]
			if got := envValue(c.Env, "PORT"); got != tt.wantEnv {
				t.Errorf("PORT = %q, want %q", got, tt.wantEnv)
			}
			if c.Ports[0].ContainerPort != int32(tt.wantBind) || c.ReadinessProbe.HTTPGet.Port.IntValue() != tt.wantBind {
				t.Errorf("container port %d, readiness port %v, want %d", c.Ports[0].ContainerPort, c.ReadinessProbe.HTTPGet.Port, tt.wantBind)
			}
			sc := d.Spec.Template.Spec.SecurityContext
			if got := sc != nil && len(sc.Sysctls) == 1 && sc.Sysctls[0].Name == "net.ipv4.ip_unprivileged_port_start" && sc.Sysctls[0].Value == "80"; got != tt.wantCtl {
				t.Errorf("unprivileged-port sysctl = %+v, want it: %v", sc, tt.wantCtl)
			}
			hw, _ := objectsNamed(t, p, "helloworld")
			if hw.Spec.Template.Spec.SecurityContext != nil || envValue(hw.Spec.Template.Spec.Containers[0].Env, "PORT") != "" {
				t.Errorf("helloworld changed: %+v", hw.Spec.Template.Spec)
			}
		})
	}
}

func TestMultiPortShape(t *testing.T) {
	p := DefaultParams("meshtest", "cluster-3", 3)
	p.Services = append(p.Services, Service{Name: "hw-multiport", Backend: "helloworld", Owner: "multiport",
		Ports: []ServicePort{{Name: "http", Port: 80, TargetPort: 8080}, {Name: "alt", Port: 8080, TargetPort: 8080}}})
	_, s := objectsNamed(t, p, "hw-multiport")
	var got []string
	for _, sp := range s.Spec.Ports {
		got = append(got, fmt.Sprintf("%s:%d->%s", sp.Name, sp.Port, sp.TargetPort.String()))
	}
	if strings.Join(got, " ") != "http:80->8080 alt:8080->8080" {
		t.Errorf("ports = %v", got)
	}
}

func TestPortValidation(t *testing.T) {
	for name, tt := range map[string]struct {
		ports []ServicePort
		port  int
		want  string
	}{
		"unnamed beside another": {ports: []ServicePort{{Port: 80}, {Name: "alt", Port: 8080}}, want: "port 80 has no name beside other ports"},
		"repeated port":          {ports: []ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 80}}, want: "port 80 repeated"},
		"repeated name":          {ports: []ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 81}}, want: `port name "a" repeated`},
		"port out of range":      {ports: []ServicePort{{Port: 0}}, want: "port 0 (target 0) out of range"},
		"target out of range":    {ports: []ServicePort{{Port: 80, TargetPort: 70000}}, want: "out of range"},
		"backend port":           {port: -1, want: "backend helloworld: port -1 out of range"},
	} {
		p := DefaultParams("meshtest", "cluster-1", 1)
		p.Services[0].Ports = tt.ports
		p.Backends[0].Port = tt.port
		if _, err := Objects(context.Background(), p); err == nil || !strings.Contains(err.Error(), "[cluster-1] manifests: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tt.want)
		}
	}
}

// A Lifecycle backend keeps serving after SIGTERM for the serve window and
// its grace period covers that window and the drain; the other backends'
// pods are rendered as before (a reuse run must not restart them).
func TestLifecycleBackend(t *testing.T) {
	p := DefaultParams("meshtest", "cluster-1", 1)
	p.TerminatingServe = 12500 * time.Millisecond
	p.Backends = []Backend{{Name: "helloworld", Owner: "suite"}, {Name: "hw-readiness", Owner: "readiness", Lifecycle: true}}
	p.Services = []Service{{Name: "hw-readiness", Backend: "hw-readiness", Owner: "readiness"}}
	objs, err := Objects(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	type pod struct {
		serve string
		grace int64
		envs  int
	}
	got := map[string]pod{}
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok && d.Name != "client" {
			spec := d.Spec.Template.Spec
			got[d.Name] = pod{serve: envValue(spec.Containers[0].Env, "SERVE_AFTER_SIGTERM"), grace: *spec.TerminationGracePeriodSeconds, envs: len(spec.Containers[0].Env)}
		}
	}
	want := map[string]pod{
		"helloworld":   {serve: "", grace: 10, envs: 1},
		"hw-readiness": {serve: "12.5s", grace: 23, envs: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("deployments %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	p.TerminatingServe = 0
	if _, err := Objects(context.Background(), p); err == nil || !strings.Contains(err.Error(), "[cluster-1] manifests: backend hw-readiness keeps serving after SIGTERM, but the serve window 0s is not positive") {
		t.Errorf("a Lifecycle backend without a serve window: err = %v", err)
	}
}
