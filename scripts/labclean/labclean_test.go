// Package labclean tests scripts/lab-clean.sh in its dry run, against a fake
// docker and a fake mesh command: what it would remove, and what it refuses.
package labclean

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDocker answers the read-only calls lab-clean makes and records every
// call. Its image list has a lab image, a lab image without a tag and a
// stranger's image, each returned only for its own label filter.
const fakeDocker = `#!/usr/bin/env bash
echo "docker $*" >>"$FAKE_LOG"
case "$1 $2" in
"info "*) exit 0 ;;
"ps "*) case "$*" in
	*"--filter label=io.x-k8s.kind.cluster "*) echo cluster-1; echo theirs ;;
	*"--filter label=clustermesh-e2e.hash "*) echo "clustermesh-e2e-preload-1 "; echo "cluster-1-control-plane cluster-1" ;;
	esac ;;
"image ls") case "$*" in
	*label=clustermesh-e2e.hash*) echo localhost/clustermesh-e2e/node:v1.34.4; echo sha256:abc ;;
	esac ;;
"volume ls") case "$*" in
	*label=clustermesh-e2e.hash*) echo lab-volume ;;
	esac ;;
esac
`

func setup(t *testing.T, marked bool) (cache, log string, run func() (string, error)) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	cache = filepath.Join(dir, "cache")
	log = filepath.Join(dir, "calls.log")
	for _, p := range []string{bin, filepath.Join(cache, "bin"), filepath.Join(cache, "debs")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if marked {
		if err := os.WriteFile(filepath.Join(cache, ".clustermesh-e2e-cache"), []byte("lab\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mesh := filepath.Join(bin, "mesh")
	for path, body := range map[string]string{
		filepath.Join(bin, "docker"): fakeDocker,
		mesh:                         "#!/usr/bin/env bash\necho \"mesh $*\" >>\"$FAKE_LOG\"\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run = func() (string, error) {
		cmd := exec.Command("bash", "../lab-clean.sh")
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+log,
			"CLUSTERMESH_E2E_CACHE="+cache, "MESH="+mesh, "LAB_CLEAN_DRY_RUN=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	return cache, log, run
}

func TestDryRunMarkedCache(t *testing.T) {
	cache, log, run := setup(t, true)
	out, err := run()
	if err != nil {
		t.Fatalf("lab-clean: %v\n%s", err, out)
	}
	for _, want := range []string{
		"would run: " + filepath.Join(filepath.Dir(log), "bin", "mesh") + " down",
		"would run: docker rm -f -v clustermesh-e2e-preload-1\n",
		"would run: docker image rm localhost/clustermesh-e2e/node:v1.34.4",
		"would run: docker image rm sha256:abc",
		"would run: docker volume rm lab-volume",
		"would run: rm -rf " + filepath.Join(cache, "bin"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, never := range []string{"cluster-1-control-plane", "rm -rf " + filepath.Join(cache, "debs"), ".clustermesh-e2e-cache\n"} {
		if strings.Contains(out, "would run: docker rm -f -v "+never) || strings.Contains(out, "would run: "+never) {
			t.Errorf("output would remove %q:\n%s", never, out)
		}
	}
	checkCalls(t, log)
}

func TestDryRunRefusesAnUnmarkedCache(t *testing.T) {
	cache, log, run := setup(t, false)
	out, err := run()
	if err == nil {
		t.Errorf("lab-clean succeeded with an unmarked cache:\n%s", out)
	}
	if !strings.Contains(out, "REFUSED: "+cache+" has no .clustermesh-e2e-cache marker") {
		t.Errorf("no refusal naming %s:\n%s", cache, out)
	}
	if strings.Contains(out, "rm -rf "+cache) {
		t.Errorf("would remove inside the unmarked cache:\n%s", out)
	}
	checkCalls(t, log)
}

// checkCalls: a dry run only reads, and every listing filters on a lab label.
func checkCalls(t *testing.T, log string) {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(call)
		switch {
		case f[0] == "mesh":
			t.Errorf("the dry run ran %q", call)
		case strings.Contains(call, "prune") || slicesHasAny(f[1:min(3, len(f))], "rm", "rmi", "kill", "stop"):
			t.Errorf("the dry run ran %q", call)
		case (f[1] == "image" || f[1] == "volume") && !strings.Contains(call, "label=clustermesh-e2e."):
			t.Errorf("a listing without a lab label: %q", call)
		}
	}
}

func slicesHasAny(words []string, any ...string) bool {
	for _, w := range words {
		for _, a := range any {
			if w == a {
				return true
			}
		}
	}
	return false
}

func TestNoPrune(t *testing.T) {
	b, err := os.ReadFile("../lab-clean.sh")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		code, _, _ := strings.Cut(line, "#")
		if strings.Contains(code, "prune") {
			t.Errorf("lab-clean.sh:%d prunes (host-wide): %s", i+1, line)
		}
	}
}
