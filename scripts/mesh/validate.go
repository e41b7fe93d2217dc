package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/junit"
)

// validate is make's first step before anything starts (Docker, image
// builds, clusters): Load and Validate only. On error it writes
// ARTIFACTS/junit.xml naming the error, the file Ginkgo would have written,
// and returns the exit code.
func validate(loader *config.Loader, parseErr error) int {
	if errors.Is(parseErr, flag.ErrHelp) {
		return 0
	}
	start := time.Now()
	cfg, err := config.LoadAndValidate(loader, os.LookupEnv)
	if parseErr != nil {
		err = errors.Join(fmt.Errorf("flags: %w", parseErr), err)
	}
	if err == nil {
		names := make([]string, len(cfg.Clusters))
		for i, c := range cfg.Clusters {
			names[i] = c.Name
		}
		fmt.Fprintf(os.Stderr, "configuration valid: provider %s, profile %s, clusters %s, Cilium %s, namespace %s (%s)\n",
			cfg.Provider, cfg.Profile, strings.Join(names, ","), cfg.CiliumVersion, cfg.Namespace, time.Since(start).Round(time.Millisecond))
		return 0
	}
	fmt.Fprintf(os.Stderr, "error: %v\n", err)
	dir := cfg.Artifacts
	if dir == "" {
		dir = config.Default().Artifacts
	}
	path := filepath.Join(dir, junit.FileName)
	if werr := junit.WriteFailure(path, junit.Failure{Suite: "ClusterMesh conformance", Name: "configuration",
		Err: err, Duration: time.Since(start)}); werr != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", werr)
	} else {
		fmt.Fprintf(os.Stderr, "JUnit report: %s\n", path)
	}
	return 1
}
