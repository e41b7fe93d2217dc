package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandler(t *testing.T) {
	const title = "Welcome to Azure Kubernetes Service (AKS) 'helloworld' on cluster 2"
	tests := []struct {
		name        string
		title       string
		path        string
		contentType string
		contains    []string
		absent      []string
	}{
		{
			name:        "page names the cluster in title and logo",
			title:       title,
			path:        "/",
			contentType: "text/html; charset=utf-8",
			contains: []string{
				"<title>" + title + "</title>",
				`<div id="logo">` + title + "</div>",
			},
			absent: []string{"&#39;"},
		},
		{
			name:        "any path serves the page",
			title:       title,
			path:        "/some/where",
			contentType: "text/html; charset=utf-8",
			contains:    []string{"<title>" + title + "</title>"},
		},
		{
			name:        "markup in the title is escaped",
			title:       "a <b> & c",
			path:        "/",
			contentType: "text/html; charset=utf-8",
			contains:    []string{"<title>a &lt;b&gt; &amp; c</title>"},
			absent:      []string{"<b>"},
		},
		{
			name:        "healthz is plain ok",
			title:       title,
			path:        "/healthz",
			contentType: "text/plain; charset=utf-8",
			contains:    []string{"ok"},
			absent:      []string{"<title>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newApp(tt.title).handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get(ServedByHeader); got != "hw-pod-1" {
				t.Errorf("%s = %q, want the host name hw-pod-1", ServedByHeader, got)
			}
			body := rec.Body.String()
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(body, s) {
					t.Errorf("body has %q:\n%s", s, body)
				}
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr bool
	}{
		{name: "defaults", env: map[string]string{},
			want: config{title: defaultTitle, port: "8080", drain: 10 * time.Second}},
		{name: "all set", env: map[string]string{"TITLE": "t", "PORT": "9090", "DRAIN_TIMEOUT": "3s", "SERVE_AFTER_SIGTERM": "15s"},
			want: config{title: "t", port: "9090", drain: 3 * time.Second, serveAfter: 15 * time.Second}},
		{name: "serve after SIGTERM zero", env: map[string]string{"SERVE_AFTER_SIGTERM": "0s"},
			want: config{title: defaultTitle, port: "8080", drain: 10 * time.Second}},
		{name: "bad drain", env: map[string]string{"DRAIN_TIMEOUT": "soon"}, wantErr: true},
		{name: "negative drain", env: map[string]string{"DRAIN_TIMEOUT": "-1s"}, wantErr: true},
		{name: "bad serve after SIGTERM", env: map[string]string{"SERVE_AFTER_SIGTERM": "a while"}, wantErr: true},
		{name: "negative serve after SIGTERM", env: map[string]string{"SERVE_AFTER_SIGTERM": "-5s"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromEnv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// blockingServer starts serve with a handler that holds every request until release is
// closed; started receives one value per request that reached the handler.
func blockingServer(t *testing.T, drain time.Duration) (addr string, cancel context.CancelFunc,
	started <-chan struct{}, release chan struct{}, result <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := make(chan struct{}, 8)
	rel := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st <- struct{}{}
		select {
		case <-rel:
		case <-r.Context().Done():
			return
		}
		newApp("drained").handler().ServeHTTP(w, r)
	})
	ctx, cancelFn := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- serve(ctx, ln, h, drain, 0, nil) }()
	return ln.Addr().String(), cancelFn, st, rel, res
}

func TestShutdownDrainsInFlight(t *testing.T) {
	addr, cancel, started, release, result := blockingServer(t, time.Minute)
	defer cancel()

	type reply struct {
		body string
		err  error
	}
	replies := make(chan reply, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			replies <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		replies <- reply{body: string(b), err: err}
	}()
	<-started
	cancel() // what SIGTERM does in main

	// The listener closes while the request is still held: new connections are refused.
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
	}
	close(release)

	r := <-replies
	if r.err != nil {
		t.Fatalf("in-flight request failed during shutdown: %v", r.err)
	}
	if !strings.Contains(r.body, "<title>drained</title>") {
		t.Errorf("in-flight request got %q", r.body)
	}
	if err := <-result; err != nil {
		t.Errorf("serve returned %v after a clean drain, want nil", err)
	}
}

func TestShutdownBoundedByDrainTimeout(t *testing.T) {
	addr, cancel, started, release, result := blockingServer(t, 50*time.Millisecond)
	defer close(release)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	err := <-result
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("serve returned %v, want a drain timeout (context.DeadlineExceeded)", err)
	}
}

func newApp(title string) *app {
	a := &app{title: title, host: "hw-pod-1"}
	a.ready.Store(true)
	return a
}

// do sends one request through the handler and returns the status and body.
func do(t *testing.T, h http.Handler, method, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code, rec.Body.String()
}

// Readiness is turned off and on from outside; the page is served all along.
func TestAdminReadyToggle(t *testing.T) {
	h := newApp("t").handler()
	steps := []struct {
		method, target string
		wantCode       int
		wantBody       string
		healthz        int
	}{
		{http.MethodGet, "/admin/ready", http.StatusOK, "ready=true\n", http.StatusOK},
		{http.MethodPost, "/admin/ready?state=false", http.StatusOK, "ready=false\n", http.StatusServiceUnavailable},
		{http.MethodGet, "/admin/ready", http.StatusOK, "ready=false\n", http.StatusServiceUnavailable},
		{http.MethodPost, "/admin/ready?state=false", http.StatusOK, "ready=false\n", http.StatusServiceUnavailable},
		{http.MethodPost, "/admin/ready?state=maybe", http.StatusBadRequest, `state="maybe": want true or false` + "\n", http.StatusServiceUnavailable},
		{http.MethodPost, "/admin/ready", http.StatusBadRequest, `state="": want true or false` + "\n", http.StatusServiceUnavailable},
		{http.MethodDelete, "/admin/ready?state=true", http.StatusMethodNotAllowed, "", http.StatusServiceUnavailable},
		{http.MethodPost, "/admin/ready?state=true", http.StatusOK, "ready=true\n", http.StatusOK},
	}
	for i, s := range steps {
		code, body := do(t, h, s.method, s.target)
		if code != s.wantCode || body != s.wantBody {
			t.Errorf("step %d: %s %s = %d %q, want %d %q", i, s.method, s.target, code, body, s.wantCode, s.wantBody)
		}
		if code, _ := do(t, h, http.MethodGet, "/healthz"); code != s.healthz {
			t.Errorf("step %d: after %s %s /healthz = %d, want %d", i, s.method, s.target, code, s.healthz)
		}
		if code, body := do(t, h, http.MethodGet, "/"); code != http.StatusOK || !strings.Contains(body, "<title>t</title>") {
			t.Errorf("step %d: the page = %d %q, want it served whatever the readiness", i, code, body)
		}
	}
}

// With SERVE_AFTER_SIGTERM the server still accepts and answers new
// connections after the signal, for that long, then stops accepting and
// exits cleanly.
func TestServeAfterSIGTERMKeepsAccepting(t *testing.T) {
	const window = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- serve(ctx, ln, newApp("late").handler(), time.Second, window, nil) }()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() (string, error) {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.Header.Get(ServedByHeader) + " " + string(b), err
	}
	if _, err := get(); err != nil {
		t.Fatalf("before the signal: %v", err)
	}
	cancel() // what SIGTERM does in main
	signalled := time.Now()
	body, err := get()
	if err != nil {
		t.Fatalf("a new connection right after the signal failed: %v", err)
	}
	if !strings.Contains(body, "hw-pod-1") || !strings.Contains(body, "<title>late</title>") {
		t.Errorf("answer after the signal = %q", body)
	}
	if err := <-res; err != nil {
		t.Errorf("serve returned %v after the window, want nil", err)
	}
	if took := time.Since(signalled); took < window {
		t.Errorf("serve returned %s after the signal, before the %s window ended", took, window)
	}
	if _, err := get(); err == nil {
		t.Error("a new connection after the window was answered; the listener should be closed")
	}
}
