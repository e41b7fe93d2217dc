package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/config"
)

func TestValidateIsStaticAndFast(t *testing.T) {
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
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("validate", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			l := config.Bind(fs)
			start := time.Now()
			err := validate(l)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("validate took %s", took)
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("%v: %v", tt.env, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("%v: err = %v, want %q", tt.env, err, tt.wantErr)
			}
		})
	}
}
