package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// table writes both files into the matrix directory and fails unless every
// version passed.
func TestTable(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../fixtures/matrix/testdata/run")); err != nil {
		t.Fatal(err)
	}
	if code := table([]string{"-dir", dir, "1.20.2"}); code != 0 {
		t.Errorf("every spec passed on 1.20.2, exit %d", code)
	}
	if code := table([]string{"-dir", dir, "1.20.2", "1.18.9"}); code != 1 {
		t.Errorf("1.18.9 is not buildable, exit %d, want 1", code)
	}
	md, err := os.ReadFile(filepath.Join(dir, "matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| spec | 1.20.2 | 1.18.9 |") || !strings.Contains(string(md), "**not buildable**") {
		t.Errorf("matrix.md:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, "matrix.json")); err != nil {
		t.Error(err)
	}
}

func TestFresh(t *testing.T) {
	if code := fresh(strings.NewReader("[cluster-1]  cluster  create  kind cluster\nplan: ok\n")); code != 0 {
		t.Errorf("created: exit %d", code)
	}
	if code := fresh(strings.NewReader("[cluster-1]  cluster  reuse  kind cluster made by the suite\nplan: ok\n")); code != 1 {
		t.Errorf("reused: exit %d, want 1", code)
	}
}
