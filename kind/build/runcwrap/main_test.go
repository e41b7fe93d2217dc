package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSpecTarget(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   string
		wantOK bool
	}{
		{"create with bundle", []string{"--root", "/r", "--log", "/l", "--log-format", "json", "create", "--bundle", "/b", "id"}, "/b/config.json", true},
		{"create bundle equals", []string{"create", "--bundle=/b", "id"}, "/b/config.json", true},
		{"run short bundle", []string{"--systemd-cgroup", "run", "-b", "/x", "id"}, "/x/config.json", true},
		{"create without bundle uses cwd", []string{"create", "id"}, "config.json", true},
		{"global value named like a command", []string{"--root", "run", "start", "id"}, "", false},
		{"exec process file", []string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json", true},
		{"exec short process", []string{"exec", "-p=/tmp/q.json", "id"}, "/tmp/q.json", true},
		{"exec command line only", []string{"exec", "id", "sh", "-p", "x"}, "", false},
		{"exec process after other flags", []string{"exec", "--cwd", "/", "-e", "A=b", "--tty", "-p", "/p.json", "id"}, "/p.json", true},
		{"create bundle after pid file", []string{"create", "--pid-file", "/p", "--bundle", "/b", "id"}, "/b/config.json", true},
		{"start needs nothing", []string{"start", "id"}, "", false},
		{"delete needs nothing", []string{"--root", "/r", "delete", "--force", "id"}, "", false},
		{"version", []string{"--version"}, "", false},
		{"no args", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := specTarget(tt.args)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("specTarget(%q) = %q, %v; want %q, %v", tt.args, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDropCaps(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantCaps    map[string][]string
		wantChanged bool
		wantErr     bool
	}{
		{
			name: "runtime spec, every set",
			in: `{"ociVersion":"1.0.2","process":{"args":["sh"],"capabilities":{` +
				`"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"],` +
				`"permitted":["CAP_SYS_RESOURCE","CAP_NET_ADMIN"],"inheritable":[],"ambient":["CAP_SYS_RESOURCE"]}}}`,
			wantCaps: map[string][]string{
				"bounding": {"CAP_CHOWN"}, "effective": {}, "permitted": {"CAP_NET_ADMIN"},
				"inheritable": {}, "ambient": {},
			},
			wantChanged: true,
		},
		{
			name:        "process spec for exec",
			in:          `{"args":["ls"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"],"effective":["CAP_KILL"]}}`,
			wantCaps:    map[string][]string{"bounding": {"CAP_KILL"}, "effective": {"CAP_KILL"}},
			wantChanged: true,
		},
		{
			name:        "nothing to drop",
			in:          `{"process":{"capabilities":{"bounding":["CAP_KILL"]}}}`,
			wantCaps:    map[string][]string{"bounding": {"CAP_KILL"}},
			wantChanged: false,
		},
		{
			name:        "no capabilities at all",
			in:          `{"process":{"args":["true"]}}`,
			wantChanged: false,
		},
		{name: "not json", in: `{`, wantErr: true},
		{name: "null", in: `null`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := dropCaps([]byte(tt.in), []string{"CAP_SYS_RESOURCE"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if changed != tt.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if tt.wantCaps == nil {
				return
			}
			if got := capsOf(t, out); !reflect.DeepEqual(got, tt.wantCaps) {
				t.Fatalf("caps = %v, want %v", got, tt.wantCaps)
			}
		})
	}
}

// capsOf reads the capability sets back from either kind of spec.
func capsOf(t *testing.T, raw []byte) map[string][]string {
	t.Helper()
	var doc struct {
		Capabilities map[string][]string `json:"capabilities"`
		Process      *struct {
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("output is not json: %v", err)
	}
	if doc.Process != nil {
		return doc.Process.Capabilities
	}
	return doc.Capabilities
}

func TestEditFileKeepsOtherFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	in := `{"ociVersion":"1.2.0","hostname":"n","process":{"capabilities":{"bounding":["CAP_SYS_RESOURCE"]}}}`
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := editFile(path, []string{"CAP_SYS_RESOURCE"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["hostname"] != "n" || doc["ociVersion"] != "1.2.0" {
		t.Fatalf("other fields lost: %s", raw)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestDropList(t *testing.T) {
	dir := t.TempDir()
	status := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		env     string
		status  string
		want    []string
		wantErr bool
	}{
		{name: "explicit list wins", env: " CAP_A , ,CAP_B", status: "/nonexistent", want: []string{"CAP_A", "CAP_B"}},
		{name: "firecracker host lacks SYS_RESOURCE", status: status("fc", "Name:\tx\nCapBnd:\t000001fffeffffff\n"), want: []string{"CAP_SYS_RESOURCE"}},
		{name: "full bounding set drops nothing", status: status("full", "CapBnd:\t000001ffffffffff\n")},
		{name: "two missing", status: status("two", "CapBnd:\t000001fffefffffe\n"), want: []string{"CAP_CHOWN", "CAP_SYS_RESOURCE"}},
		{name: "no status file", status: filepath.Join(dir, "missing"), wantErr: true},
		{name: "no CapBnd line", status: status("none", "Name:\tx\n"), wantErr: true},
		{name: "garbage CapBnd", status: status("bad", "CapBnd:\tzz\n"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dropList(tt.env, tt.status)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("dropList = %v, want %v", got, tt.want)
			}
		})
	}
}
