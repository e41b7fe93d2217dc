// Command mesh brings the suite's clusters up and down outside the tests:
//
//	go run ./scripts/mesh up       three kind clusters meshed and gated (make kind-up)
//	go run ./scripts/mesh down     delete them, their kubeconfigs and the kind network (make kind-down)
//	go run ./scripts/mesh smoke    one cluster from the lab's images: nodes, Cilium, DNS, pod and service traffic (make lab-smoke)
//	go run ./scripts/mesh collect  write artifacts of the running clusters to ARTIFACTS
//	go run ./scripts/mesh image-source  print upstream or source (IMAGE_SOURCE=auto decided by a name lookup)
//
// Every e2e.* flag (and its environment variable) of fixtures/config applies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/artifacts"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	verb := os.Args[1]
	fs := flag.NewFlagSet("mesh "+verb, flag.ExitOnError)
	loader := config.Bind(fs)
	skipLoad := fs.Bool("skip-image-load", envBool("SKIP_IMAGE_LOAD"), "do not load images into kind nodes (node image with the images preloaded) [SKIP_IMAGE_LOAD]")
	noWorkload := fs.Bool("no-workload", false, "up: stop after the mesh gate; do not deploy helloworld/client nor gate on their backends")
	kubeconfigDir := fs.String("kubeconfig-dir", os.Getenv("KUBECONFIG_DIR"), "where the kind kubeconfigs go (default: a directory under the OS temp dir) [KUBECONFIG_DIR]")
	_ = fs.Parse(os.Args[2:])
	cfg, err := loader.Load(nil)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := cluster.Options{KubeconfigDir: *kubeconfigDir, Log: os.Stderr}

	switch verb {
	case "up":
		start := time.Now()
		m, err := bringup.Run(ctx, bringup.Input{Config: cfg, SkipImageLoad: *skipLoad, Workload: !*noWorkload, KubeconfigDir: *kubeconfigDir})
		if m != nil && m.Timings != nil {
			fmt.Fprintf(os.Stderr, "\nphase timings:\n%s", m.Timings.Table())
		}
		if err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "mesh up and gated in %s\n", time.Since(start).Round(100*time.Millisecond))
		for _, h := range m.Handles {
			fmt.Printf("%s\tKUBECONFIG=%s kubectl --context %s\n", h.Name, h.Kubeconfig, h.Context)
		}
	case "down":
		if err := bringup.DownWith(ctx, cfg, opts); err != nil {
			fail(err)
		}
	case "smoke":
		if err := smoke(ctx, cfg, smokeOptions{skipLoad: *skipLoad, kubeconfigDir: *kubeconfigDir}); err != nil {
			fail(err)
		}
	case "collect":
		prov, err := cluster.New(cfg, opts)
		if err != nil {
			fail(err)
		}
		hs, err := prov.Handles(ctx)
		if err != nil {
			fail(err)
		}
		if err := artifacts.Collect(ctx, artifacts.CollectInput{Handles: hs, Provider: prov, Dir: cfg.Artifacts, Log: os.Stderr}); err != nil {
			fail(err)
		}
	case "image-source":
		// One decision for the Makefile and the suite: auto becomes
		// upstream or source by a name lookup of the registries.
		src, reason := config.DecideImageSource(ctx, cfg.ImageSource, nil, 2*time.Second)
		fmt.Fprintln(os.Stderr, reason)
		fmt.Println(src)
	default:
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./scripts/mesh up|down|smoke|collect|image-source [-e2e.* flags] (see -h)")
}

func envBool(name string) bool {
	v := os.Getenv(name)
	return v == "1" || v == "true" || v == "yes"
}

func fail(err error) {
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "interrupted: %v\n", err)
		os.Exit(130)
	}
	fmt.Fprintf(os.Stderr, "error: %v\n", err)
	os.Exit(1)
}
