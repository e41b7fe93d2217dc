package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

func TestValidateIsStatic(t *testing.T) {
	for _, tt := range []struct {
		env     map[string]string
		wantErr string
	}{
		{env: map[string]string{}},
		{env: map[string]string{"CLUSTER_IDS": "0,2,3"}, wantErr: "clusters[0].id 0 is outside"},
		{env: map[string]string{"POD_CIDRS": "10.9.0.0/16,10.2.0.0/16,10.3.0.0/16"}, wantErr: "kind/cluster-1.yaml networking.podSubnet"},
	} {
		t.Run(tt.wantErr, func(t *testing.T) {
			// No engine may be asked: a docker that does not exist.
			t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
			t.Setenv("ARTIFACTS", t.TempDir())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("validate", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			l := config.Bind(fs)
			var out strings.Builder
			code := validate(l, &out)
			if tt.wantErr == "" && code != 0 {
				t.Errorf("%v: exit %d: %s", tt.env, code, out.String())
			}
			if tt.wantErr != "" && (code == 0 || !strings.Contains(out.String(), tt.wantErr)) {
				t.Errorf("%v: exit %d, output %q, want %q", tt.env, code, out.String(), tt.wantErr)
			}
		})
	}
}
