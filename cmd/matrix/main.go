// Command matrix is make e2e-matrix's Go half, a thin command over
// fixtures/matrix; the Makefile builds the images and runs the suite once
// per version in between:
//
//	matrix versions [-e2e.* flags]   check CILIUM_VERSIONS (every version with the whole configuration);
//	                                 empty: resolve the default list from the module proxy. One version a line on stdout.
//	matrix fresh < plan.txt          accept `mesh plan` only when it creates every cluster
//	matrix table -dir D [-since T] VERSION...
//	                                 merge each version's run under D/<version> into D/matrix.md and D/matrix.json,
//	                                 print the table and the times; exit 1 unless every version passed
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/matrix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var code int
	switch os.Args[1] {
	case "versions":
		code = versions(os.Args[2:])
	case "fresh":
		code = fresh(os.Stdin)
	case "table":
		code = table(os.Args[2:])
	default:
		usage()
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: matrix versions [-replacements DIR] [-e2e.* flags] | matrix fresh <plan | matrix table -dir DIR [-since UNIX] VERSION...")
	os.Exit(2)
}

func versions(args []string) int {
	fs := flag.NewFlagSet("matrix versions", flag.ContinueOnError)
	replacements := fs.String("replacements", "kind/build/cilium/replacements", "the builds' per-version replacement data (v<version>.txt)")
	goCmd := fs.String("go", "go", "the go command that asks the module proxy")
	loader := config.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	list, err := matrix.ParseList(os.Getenv(matrix.ListVar))
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	if len(list) == 0 {
		list, err = resolve(*goCmd, *replacements, loader)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			return 1
		}
	}
	if err := matrix.Check(matrix.CheckInput{Versions: list, Load: matrix.LoadWith(loader, os.LookupEnv)}); err != nil {
		fmt.Fprintf(os.Stderr, "error: %s %s refused before anything started:\n%v\n", matrix.ListVar, strings.Join(list, " "), err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "matrix: versions %s: configuration valid for each\n", strings.Join(list, " "))
	fmt.Println(strings.Join(list, "\n"))
	return 0
}

// resolve is the default list: CILIUM_VERSION and the newest served patch
// of each of the two minor releases before it.
func resolve(goCmd, replacements string, loader *config.Loader) ([]string, error) {
	c, err := loader.Load(nil)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(replacements)
	if err != nil {
		return nil, fmt.Errorf("read the builds' versions: %w", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := matrix.DefaultVersions(ctx, c.CiliumVersion, matrix.KnownVersions(names), goList(goCmd))
	if err != nil {
		return nil, err
	}
	how := "CILIUM_VERSION and the newest patch release of each of the two minor releases before it that the module proxy serves"
	if res.Fallback {
		how = "CILIUM_VERSION and the newest versions the builds know (the module proxy could not be asked)"
	}
	fmt.Fprintf(os.Stderr, "matrix: %s is empty: %s: %s\n", matrix.ListVar, how, strings.Join(res.Versions, " "))
	for _, n := range res.Notes {
		fmt.Fprintf(os.Stderr, "matrix:   %s\n", n)
	}
	return res.Versions, nil
}

// goList asks the module proxy with `go list -m -json`, outside any module,
// from the proxies alone (never the origin), with the checksum database
// left out for Cilium's module: the question is what the proxy serves.
func goList(goCmd string) matrix.Lookup {
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := exec.Command(goCmd, "env", "GOPROXY").Output(); err == nil {
		if p := matrix.ProxyOnly(strings.TrimSpace(string(out))); p != "" {
			env = append(env, "GOPROXY="+p)
		}
	}
	nosum := matrix.CiliumModule
	if v := os.Getenv("GONOSUMDB"); v != "" {
		nosum = v + "," + nosum
	}
	env = append(env, "GONOSUMDB="+nosum)
	return func(ctx context.Context, version string) (matrix.Availability, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCmd, "list", "-m", "-json", matrix.CiliumModule+"@v"+version)
		cmd.Dir, cmd.Env = os.TempDir(), env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return matrix.ParseGoList(stdout.Bytes(), stderr.Bytes(), err)
	}
}

func fresh(plan io.Reader) int {
	b, err := io.ReadAll(plan)
	if err == nil {
		err = matrix.Fresh(string(b))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

func table(args []string) int {
	fs := flag.NewFlagSet("matrix table", flag.ContinueOnError)
	dir := fs.String("dir", "", "the matrix directory (ARTIFACTS/matrix), one directory per version in it")
	since := fs.Int64("since", 0, "when the matrix started (Unix seconds), for the total time")
	if err := fs.Parse(args); err != nil || *dir == "" || fs.NArg() == 0 {
		usage()
	}
	code := 0
	var runs []matrix.VersionRun
	for _, v := range fs.Args() {
		r, err := matrix.LoadVersion(*dir, v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			code = 1
		}
		runs = append(runs, r)
	}
	t := matrix.Merge(runs)
	if *since > 0 {
		t.Total = time.Since(time.Unix(*since, 0))
	}
	for _, out := range []struct {
		name  string
		write func(io.Writer, matrix.Table) error
	}{{matrix.MarkdownFile, matrix.WriteMarkdown}, {matrix.JSONFile, matrix.WriteJSON}} {
		if err := writeFile(filepath.Join(*dir, out.name), t, out.write); err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			return 1
		}
	}
	if err := matrix.WriteMarkdown(os.Stdout, t); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	fmt.Println()
	if err := matrix.WriteTimes(os.Stdout, t); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	fmt.Printf("\nmatrix: %s and %s\n", filepath.Join(*dir, matrix.MarkdownFile), filepath.Join(*dir, matrix.JSONFile))
	if !t.OK() {
		fmt.Println("matrix: FAILED: a version did not run, or a spec or its bring-up failed (see the table)")
		return 1
	}
	fmt.Println("matrix: every version passed")
	return code
}

func writeFile(path string, t matrix.Table, write func(io.Writer, matrix.Table) error) error {
	var b bytes.Buffer
	if err := write(&b, t); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
