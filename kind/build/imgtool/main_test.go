package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestParseSpecs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "one image", in: `[{"tag":"registry.k8s.io/pause:3.10.1","rootfs":"p.tar"}]`},
		{name: "not json", in: `{`, wantErr: "unexpected end"},
		{name: "empty list", in: `[]`, wantErr: "no images"},
		{name: "no tag", in: `[{"rootfs":"p.tar"}]`, wantErr: "no tag"},
		{name: "no rootfs", in: `[{"tag":"a:b"}]`, wantErr: "no rootfs"},
		{name: "duplicate", in: `[{"tag":"a:b","rootfs":"x"},{"tag":"a:b","rootfs":"y"}]`, wantErr: "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSpecs([]byte(tt.in))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// rootfsTar writes a tar holding one file and returns its path and sha256.
func rootfsTar(t *testing.T) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("#!/bin/sh\n")
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
}

func TestRunWritesLoadableArchive(t *testing.T) {
	rootfs, sum := rootfsTar(t)
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.json")
	out := filepath.Join(dir, "images.tar")
	js := fmt.Sprintf(`[
	 {"tag":"registry.k8s.io/pause:3.10.1","rootfs":%q,"entrypoint":["/pause"],"user":"65535:65535",
	  "labels":{"clustermesh-e2e.hash":"abc"}},
	 {"tag":"localhost/clustermesh-e2e/node:v1","rootfs":%q,"stopSignal":"SIGRTMIN+3","env":["container=docker"]}]`,
		rootfs, rootfs)
	if err := os.WriteFile(spec, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(spec, out); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tag   string
		check func(t *testing.T, user, stop string, labels map[string]string, env []string)
	}{
		{"registry.k8s.io/pause:3.10.1", func(t *testing.T, user, stop string, labels map[string]string, env []string) {
			if user != "65535:65535" || labels["clustermesh-e2e.hash"] != "abc" {
				t.Errorf("user %q labels %v", user, labels)
			}
		}},
		{"localhost/clustermesh-e2e/node:v1", func(t *testing.T, user, stop string, labels map[string]string, env []string) {
			if stop != "SIGRTMIN+3" || len(env) != 1 || env[0] != "container=docker" {
				t.Errorf("stop signal %q env %v", stop, env)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			tag, err := name.NewTag(tt.tag)
			if err != nil {
				t.Fatal(err)
			}
			img, err := tarball.ImageFromPath(out, &tag)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if len(cf.RootFS.DiffIDs) != 1 || cf.RootFS.DiffIDs[0].Hex != sum {
				t.Errorf("diff IDs %v, want one sha256:%s", cf.RootFS.DiffIDs, sum)
			}
			if cf.OS != "linux" {
				t.Errorf("os %q", cf.OS)
			}
			tt.check(t, cf.Config.User, cf.Config.StopSignal, cf.Config.Labels, cf.Config.Env)
		})
	}
}

func TestBuildMissingRootfs(t *testing.T) {
	if _, err := build(Spec{Tag: "a:b", Rootfs: filepath.Join(t.TempDir(), "nope.tar")}, time.Unix(0, 0)); err == nil {
		t.Fatal("want an error for a missing rootfs")
	}
}
