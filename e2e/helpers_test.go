package e2e

import (
	"strings"
	"testing"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/verdict"
)

// Plain unit tests of the suite's pure helpers; they run under -short.

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Service affinity when affinity is "local" answers only locally`, "service-affinity-when-affinity-is-local-answers-only-locally"},
		{"A global service :: cluster-1 not shared", "a-global-service-cluster-1-not-shared"},
		{strings.Repeat("x", 200), strings.Repeat("x", 120)},
	}
	for _, tt := range tests {
		if got := Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExactly(t *testing.T) {
	all := []string{"cluster-1", "cluster-2", "cluster-3"}
	tests := []struct {
		name    string
		answers map[string]int
		errs    int
		want    []string
		wantErr string
	}{
		{name: "every expected, nothing else", answers: map[string]int{"cluster-2": 20, "cluster-3": 20}, want: []string{"cluster-2", "cluster-3"}},
		{name: "an unexpected cluster", answers: map[string]int{"cluster-1": 1, "cluster-2": 20, "cluster-3": 19}, want: []string{"cluster-2", "cluster-3"}, wantErr: "cluster-1"},
		{name: "an expected cluster missing", answers: map[string]int{"cluster-2": 40}, want: []string{"cluster-2", "cluster-3"}, wantErr: "cluster-3 never answered"},
		{name: "a failed request", answers: map[string]int{"cluster-2": 39}, errs: 1, want: []string{"cluster-2"}, wantErr: "1 of 40 requests failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tally := verdict.NewTally(all...)
			for c, n := range tt.answers {
				tally.AddN("cluster-1", c, n)
			}
			tally.AddErrorN("cluster-1", "refused", tt.errs)
			err := Exactly(tally, "cluster-1", tt.want)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "from \\ answered by") {
				t.Errorf("the failure does not print the matrix:\n%v", err)
			}
		})
	}
}
