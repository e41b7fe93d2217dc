// Command mesh is the suite's clusters outside the tests, a thin command
// over fixtures/ (as kind's cmd/kind is over its pkg/):
//
//	mesh plan          print what up would do, from what exists; changes nothing (make plan)
//	mesh up            print the plan, then carry it out: clusters meshed and gated (make kind-up)
//	mesh down          delete what the suite made: marked kind clusters, their kubeconfigs, the network it made (make kind-down)
//	mesh smoke         one cluster from the lab's images: nodes, Cilium, DNS, pod and service traffic (make lab-smoke)
//	mesh collect       write artifacts of the running clusters to ARTIFACTS (make collect)
//	mesh image-source  print upstream or source (IMAGE_SOURCE=auto decided by a name lookup)
//	mesh validate      check the configuration alone: no engine, no network, no cluster
//
// Every e2e.* flag (and its environment variable) of fixtures/config applies.
// Every verb but validate resolves the configuration once, at its start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/artifacts"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/bringup"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/cluster"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/kube"
	kindconfigs "github.com/clustermesh-conformance/clustermesh-e2e/kind"
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
	log := os.Stderr
	// Every wait says what it still waits for, every 15 s.
	kube.Progress = log

	if verb == "validate" {
		os.Exit(validate(loader, log))
	}
	cfg, err := loader.Load(nil)
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := bringup.Options{SkipImageLoad: *skipLoad, Workload: !*noWorkload, KubeconfigDir: *kubeconfigDir, Log: log}

	switch verb {
	case "plan", "up", "down", "collect":
		// Each resolves its own configuration below.
	case "smoke":
		if err := smoke(ctx, cfg, smokeOptions{skipLoad: *skipLoad, kubeconfigDir: *kubeconfigDir}); err != nil {
			fail(err)
		}
		return
	case "image-source":
		// One decision for the Makefile and the suite: auto becomes
		// upstream or source by a name lookup of the registries.
		src, reason := config.DecideImageSource(ctx, cfg.ImageSource, nil, 2*time.Second)
		fmt.Fprintln(log, reason)
		fmt.Println(src)
		return
	default:
		usage()
		os.Exit(2)
	}

	if cfg, err = resolve(ctx, cfg, log); err != nil {
		fail(err)
	}
	switch verb {
	case "plan":
		if err := plan(ctx, cfg, opts); err != nil {
			fail(err)
		}
	case "up":
		if err := up(ctx, cfg, opts); err != nil {
			fail(err)
		}
	case "down":
		if err := bringup.Down(ctx, cfg, opts); err != nil {
			fail(err)
		}
	case "collect":
		prov, err := cluster.New(cfg, cluster.Options{KubeconfigDir: *kubeconfigDir, Log: log})
		if err != nil {
			fail(err)
		}
		hs, err := prov.Handles(ctx)
		if err != nil {
			fail(err)
		}
		if err := artifacts.Collect(ctx, artifacts.CollectInput{Handles: hs, Provider: prov, Dir: cfg.Artifacts, Log: log}); err != nil {
			fail(err)
		}
	}
}

// resolve resolves the configuration, prints what differs from the
// defaults, and writes it to ARTIFACTS/config.yaml.
func resolve(ctx context.Context, cfg config.Config, log io.Writer) (config.Config, error) {
	cfg, err := config.Resolve(ctx, cfg, cluster.ResolveSeams(log))
	if err != nil {
		return cfg, err
	}
	config.Print(log, cfg)
	if err := config.WriteFile(filepath.Join(cfg.Artifacts, "config.yaml"), cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// validate is make validate's check (cmd/validate) from this command:
// flags, environment and the kind configs, nothing started; on error the
// JUnit file names it. It returns the exit code.
func validate(l *config.Loader, out io.Writer) int {
	return config.CheckCommand(config.CheckInput{Loader: l, Files: kindconfigs.Check, Out: out})
}

// plan prints the plan; it changes nothing, and fails when the plan refuses.
func plan(ctx context.Context, cfg config.Config, opts bringup.Options) error {
	b, err := bringup.New(cfg, opts)
	if err != nil {
		return err
	}
	p, err := b.Plan(ctx)
	if err != nil {
		return err
	}
	fmt.Print(p.String())
	return p.Err()
}

// PhasesFile, in the artifacts directory, holds the last bring-up's phase
// table.
const PhasesFile = "bring-up-phases.txt"

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none, every cluster was there already"
	}
	return strings.Join(names, ", ")
}

// up prints the plan and carries it out. The teardown of what the plan
// creates is deferred before anything starts, so an interrupt (SIGINT,
// SIGTERM) or a failure at any moment leaves nothing behind.
func up(ctx context.Context, cfg config.Config, opts bringup.Options) (err error) {
	start := time.Now()
	b, err := bringup.New(cfg, opts)
	if err != nil {
		return err
	}
	p, err := b.Plan(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(opts.Log, p.String())
	if err := p.Err(); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			return
		}
		fmt.Fprintln(opts.Log, "bring-up did not finish: removing what it created (SKIP_CLEANUP=true keeps it)")
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if terr := b.Teardown(tctx); terr != nil {
			err = errors.Join(err, fmt.Errorf("teardown: %w", terr))
		}
	}()
	m, err := b.Apply(ctx, p)
	if m != nil && m.Timings != nil {
		table := m.Timings.Table()
		fmt.Fprintf(opts.Log, "\nphase timings:\n%s", table)
		// Kept for make bench-suite, which prints it with the spec phases.
		head := fmt.Sprintf("bring-up phases, %s (clusters created by it: %s)\n", start.UTC().Format("2006-01-02 15:04 UTC"), listOrNone(p.Creates()))
		if werr := os.WriteFile(filepath.Join(cfg.Artifacts, PhasesFile), []byte(head+table), 0o644); werr != nil {
			fmt.Fprintf(opts.Log, "writing the phase table: %v\n", werr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Log, "mesh up and gated in %s\n", time.Since(start).Round(100*time.Millisecond))
	for _, h := range m.Handles {
		fmt.Printf("%s\tKUBECONFIG=%s kubectl --context %s\n", h.Name, h.Kubeconfig, h.Context)
	}
	return nil
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mesh plan|up|down|smoke|collect|image-source|validate [-e2e.* flags] (see -h)")
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
