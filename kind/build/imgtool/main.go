// Command imgtool assembles container images from root filesystem tars into
// one docker archive (the format of `docker save`, read by `docker load` and
// `ctr images import`), with no base image and no registry.
//
//	imgtool -o images.tar spec.json
//
// spec.json is a list of images; each is one layer made of an uncompressed
// rootfs tar, and an image config:
//
//	[{"tag": "registry.k8s.io/pause:3.10.1", "rootfs": "pause.tar",
//	  "entrypoint": ["/pause"], "user": "65535:65535",
//	  "labels": {"clustermesh-e2e.hash": "..."}}]
//
// It exists because `docker import --change` cannot set everything an image
// needs (STOPSIGNAL, which a systemd node image must carry), and because
// writing layers uncompressed avoids compressing hundreds of megabytes on a
// two-core machine only to have them decompressed right away.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec describes one image.
type Spec struct {
	Tag        string            `json:"tag"`
	Rootfs     string            `json:"rootfs"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	StopSignal string            `json:"stopSignal,omitempty"`
	User       string            `json:"user,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
}

func main() {
	out := flag.String("o", "", "docker archive to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: imgtool -o OUT.tar SPEC.json")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintf(os.Stderr, "imgtool: %v\n", err)
		os.Exit(1)
	}
}

func run(specPath, out string) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	specs, err := parseSpecs(raw)
	if err != nil {
		return fmt.Errorf("spec %s: %w", specPath, err)
	}
	images := map[name.Tag]v1.Image{}
	for _, s := range specs {
		tag, err := name.NewTag(s.Tag)
		if err != nil {
			return fmt.Errorf("image %s: %w", s.Tag, err)
		}
		img, err := build(s, time.Now().UTC())
		if err != nil {
			return fmt.Errorf("image %s: %w", s.Tag, err)
		}
		images[tag] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiWriteToFile(tmp, images); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

func parseSpecs(raw []byte) ([]Spec, error) {
	var specs []Spec
	if err := json.Unmarshal(raw, &specs); err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, errors.New("no images")
	}
	seen := map[string]bool{}
	for i, s := range specs {
		switch {
		case s.Tag == "":
			return nil, fmt.Errorf("image %d: no tag", i)
		case s.Rootfs == "":
			return nil, fmt.Errorf("image %s: no rootfs", s.Tag)
		case seen[s.Tag]:
			return nil, fmt.Errorf("image %s: listed twice", s.Tag)
		}
		seen[s.Tag] = true
	}
	return specs, nil
}

// build makes a one-layer image from the spec.
func build(s Spec, created time.Time) (v1.Image, error) {
	layer, err := newFileLayer(s.Rootfs)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint: s.Entrypoint,
		Cmd:        s.Cmd,
		Env:        s.Env,
		Labels:     s.Labels,
		StopSignal: s.StopSignal,
		User:       s.User,
		WorkingDir: s.WorkingDir,
	}
	return mutate.ConfigFile(img, cf)
}

// fileLayer is an uncompressed layer read from a tar file: its digest and
// diff ID are the same, and writing it copies bytes without compressing.
type fileLayer struct {
	path string
	hash v1.Hash
	size int64
}

func newFileLayer(path string) (*fileLayer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", path, err)
	}
	return &fileLayer{
		path: path,
		hash: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))},
		size: n,
	}, nil
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.hash, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.hash, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *fileLayer) MediaType() (types.MediaType, error) {
	return types.DockerUncompressedLayer, nil
}
