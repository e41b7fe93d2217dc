// Command bystander stands for the things a person keeps in a cluster that
// the suite is pointed at: it makes them before a run and proves afterwards
// that the run left them exactly as they were, and that the run left
// nothing of its own behind. CI uses it on clusters made outside the suite.
//
//	go run ./scripts/bystander create -contexts kind-cluster-1,... -namespace meshtest -state state.json
//	go run ./scripts/bystander check  -contexts kind-cluster-1,... -namespace meshtest -state state.json
//
// create makes, in every context, the namespace (unless it exists), a
// ConfigMap and a Secret in it, and records what they are (uid,
// resourceVersion, labels, annotations, data digests) in the state file.
// check compares every one with the record and lists every object that
// still carries the suite's managed-by label, in any namespace.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
)

// Object is the record of one bystander object.
type Object struct {
	Kind, Namespace, Name string
	UID, ResourceVersion  string
	Labels, Annotations   map[string]string
	Digest                string
}

func (o Object) String() string { return fmt.Sprintf("%s %s/%s", o.Kind, o.Namespace, o.Name) }

const (
	configMapName = "bystander-config"
	secretName    = "bystander-secret"
	personLabel   = "example.com/owner"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bystander create|check -contexts a,b,c -namespace NS -state FILE")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	contexts := fs.String("contexts", "", "kube contexts, comma separated")
	namespace := fs.String("namespace", "meshtest", "the namespace the person owns (and the suite will be told to use)")
	state := fs.String("state", "bystanders.json", "where create records the objects and check reads them")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "create":
		err = create(ctx, strings.Split(*contexts, ","), *namespace, *state)
	case "check":
		err = check(ctx, strings.Split(*contexts, ","), *namespace, *state)
	default:
		err = fmt.Errorf("unknown verb %q: use create or check", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bystander:", err)
		os.Exit(1)
	}
}

func clients(kctx string) (kubernetes.Interface, dynamic.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("[%s] %w", kctx, err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	d, err := dynamic.NewForConfig(rc)
	return c, d, err
}

func create(ctx context.Context, contexts []string, ns, state string) error {
	rec := map[string][]Object{}
	for _, kctx := range contexts {
		c, _, err := clients(kctx)
		if err != nil {
			return err
		}
		person := map[string]string{personLabel: "a-person"}
		_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: person,
			Annotations: map[string]string{"example.com/note": "made before the suite ran"}}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("[%s] create namespace %s: %w", kctx, ns, err)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: configMapName, Labels: person},
			Data: map[string]string{"data": "a person's data in " + kctx}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("[%s] create configmap: %w", kctx, err)
		}
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Labels: person},
			Data: map[string][]byte{"password": []byte("not-the-suite's-" + kctx)}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("[%s] create secret: %w", kctx, err)
		}
		objs, err := read(ctx, c, ns)
		if err != nil {
			return fmt.Errorf("[%s] %w", kctx, err)
		}
		rec[kctx] = objs
		fmt.Printf("[%s] bystanders: %v\n", kctx, objs)
	}
	raw, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(state, raw, 0o600)
}

func read(ctx context.Context, c kubernetes.Interface, ns string) ([]Object, error) {
	n, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, configMapName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("configmap %s/%s: %w", ns, configMapName, err)
	}
	s, err := c.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, secretName, err)
	}
	cmData, _ := json.Marshal(cm.Data)
	sData, _ := json.Marshal(s.Data)
	return []Object{
		record("Namespace", n.ObjectMeta, nil),
		record("ConfigMap", cm.ObjectMeta, cmData),
		record("Secret", s.ObjectMeta, sData),
	}, nil
}

func record(kind string, m metav1.ObjectMeta, data []byte) Object {
	sum := sha256.Sum256(data)
	return Object{Kind: kind, Namespace: m.Namespace, Name: m.Name, UID: string(m.UID), ResourceVersion: m.ResourceVersion,
		Labels: m.Labels, Annotations: m.Annotations, Digest: hex.EncodeToString(sum[:])}
}

// suiteResources are where the suite's objects could be left behind.
var suiteResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "namespaces"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "pods"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "daemonsets"},
	// MCS-API's; absent (not found) where Cilium runs without it.
	{Group: "multicluster.x-k8s.io", Version: "v1beta1", Resource: "serviceexports"},
}

func check(ctx context.Context, contexts []string, ns, state string) error {
	raw, err := os.ReadFile(state)
	if err != nil {
		return err
	}
	var rec map[string][]Object
	if err := json.Unmarshal(raw, &rec); err != nil {
		return fmt.Errorf("%s: %w", state, err)
	}
	var problems []error
	for _, kctx := range contexts {
		c, d, err := clients(kctx)
		if err != nil {
			return err
		}
		now, err := read(ctx, c, ns)
		if err != nil {
			problems = append(problems, fmt.Errorf("[%s] a bystander is gone: %w", kctx, err))
			continue
		}
		for i, was := range rec[kctx] {
			if diff := compare(was, now[i]); diff != "" {
				problems = append(problems, fmt.Errorf("[%s] %s changed: %s", kctx, was, diff))
			}
		}
		for _, gvr := range suiteResources {
			list, err := d.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: kube.ManagedBySelector()})
			if apierrors.IsNotFound(err) {
				continue // the resource is not served: nothing of it can be left
			}
			if err != nil {
				problems = append(problems, fmt.Errorf("[%s] list %s: %w", kctx, gvr.Resource, err))
				continue
			}
			for _, o := range list.Items {
				problems = append(problems, fmt.Errorf("[%s] the suite left %s %s/%s behind", kctx, gvr.Resource, o.GetNamespace(), o.GetName()))
			}
		}
		if len(problems) == 0 {
			fmt.Printf("[%s] bystanders unchanged (%v); nothing labelled %s left\n", kctx, rec[kctx], kube.ManagedBySelector())
		}
	}
	return errors.Join(problems...)
}

func compare(was, now Object) string {
	var d []string
	if was.UID != now.UID {
		d = append(d, "re-created (uid "+was.UID+" -> "+now.UID+")")
	}
	if was.ResourceVersion != now.ResourceVersion {
		d = append(d, "modified (resourceVersion "+was.ResourceVersion+" -> "+now.ResourceVersion+")")
	}
	if !maps.Equal(was.Labels, now.Labels) {
		d = append(d, fmt.Sprintf("labels %v -> %v", was.Labels, now.Labels))
	}
	if !maps.Equal(was.Annotations, now.Annotations) {
		d = append(d, fmt.Sprintf("annotations %v -> %v", slices.Sorted(maps.Keys(was.Annotations)), slices.Sorted(maps.Keys(now.Annotations))))
	}
	if was.Digest != now.Digest {
		d = append(d, "data changed")
	}
	return strings.Join(d, "; ")
}
