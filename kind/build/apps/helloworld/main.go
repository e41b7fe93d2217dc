// Command helloworld is the HTTP server the suite deploys in every cluster. Its page has the
// shape of the aks-helloworld sample the seed transcripts show: the TITLE variable appears in
// the <title> and in the "logo" div, so a client's curl output names the answering cluster.
//
// It listens on :$PORT (default 8080) and serves /healthz for the readiness probe. Every
// answer carries an X-Served-By header with the pod's host name, so a client tells two pods of
// one cluster apart (a terminating pod and its replacement).
//
// /admin/ready turns readiness off and on from outside without stopping the server:
// POST /admin/ready?state=false makes /healthz answer 503 while every other path keeps
// serving the page; state=true makes it ready again; GET reports the state. The suite
// uses it to take a backend out of a service without taking it away.
//
// On SIGTERM it keeps accepting new connections for SERVE_AFTER_SIGTERM (default 0: none),
// then stops accepting, lets in-flight requests finish (bounded by DRAIN_TIMEOUT, default
// 10s) and exits 0, so a terminating backend never cuts a request the suite is counting.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const defaultTitle = "Welcome to Azure Kubernetes Service (AKS) 'helloworld'"

// ServedByHeader names the pod that answered.
const ServedByHeader = "X-Served-By"

func main() {
	logger := log.New(os.Stderr, "helloworld: ", log.LstdFlags)
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		logger.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		logger.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":"+cfg.port)
	if err != nil {
		logger.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger.Printf("serving %q on %s as %s", cfg.title, ln.Addr(), host)
	app := &app{title: cfg.title, host: host, log: logger}
	app.ready.Store(true)
	if err := serve(ctx, ln, app.handler(), cfg.drain, cfg.serveAfter, logger); err != nil {
		logger.Fatal(err)
	}
	logger.Print("drained, exiting")
}

type config struct {
	title string
	port  string
	drain time.Duration
	// serveAfter is how long new connections are still accepted after SIGTERM.
	serveAfter time.Duration
}

func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{title: getenv("TITLE"), port: getenv("PORT"), drain: 10 * time.Second}
	if cfg.title == "" {
		cfg.title = defaultTitle
	}
	if cfg.port == "" {
		cfg.port = "8080"
	}
	if v := getenv("DRAIN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return config{}, fmt.Errorf("DRAIN_TIMEOUT %q: want a positive duration such as 10s", v)
		}
		cfg.drain = d
	}
	if v := getenv("SERVE_AFTER_SIGTERM"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return config{}, fmt.Errorf("SERVE_AFTER_SIGTERM %q: want a duration such as 10s (0s: stop accepting at once)", v)
		}
		cfg.serveAfter = d
	}
	return cfg, nil
}

// app is the server's state: its page and whether it reports ready.
type app struct {
	title, host string
	ready       atomic.Bool
	log         *log.Logger
}

// handler serves the page on every path but /healthz and /admin/ready, as
// the sample app does.
func (a *app) handler() http.Handler {
	page := []byte(renderPage(a.title))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		a.text(w)
		if !a.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready (turned off through /admin/ready)\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/admin/ready", a.admin)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(ServedByHeader, a.host)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	return mux
}

func (a *app) text(w http.ResponseWriter) {
	w.Header().Set(ServedByHeader, a.host)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
}

// admin reports (GET) or sets (POST ?state=true|false) readiness.
func (a *app) admin(w http.ResponseWriter, r *http.Request) {
	a.text(w)
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		v, err := strconv.ParseBool(r.URL.Query().Get("state"))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, "state=%q: want true or false\n", r.URL.Query().Get("state"))
			return
		}
		if old := a.ready.Swap(v); old != v && a.log != nil {
			a.log.Printf("readiness set to %t by %s", v, r.RemoteAddr)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	_, _ = fmt.Fprintf(w, "ready=%t\n", a.ready.Load())
}

// textEscaper escapes only what HTML text content needs. html/template would also turn the
// apostrophes of the title into &#39;, which the seed's page does not do and parsers expect.
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func renderPage(title string) string {
	t := textEscaper.Replace(title)
	return `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8">
<title>` + t + `</title>
</head>
<body>
<div id="container">
<div id="logo">` + t + `</div>
<div id="space"></div>
</div>
</body>
</html>
`
}

// serve runs the server on ln until ctx is done, keeps accepting new connections for
// serveAfter more, then shuts it down: the listener closes, in-flight requests get up to
// drain to finish. It returns nil after a clean drain.
func serve(ctx context.Context, ln net.Listener, h http.Handler, drain, serveAfter time.Duration, logger *log.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	if serveAfter > 0 {
		if logger != nil {
			logger.Printf("terminating: still accepting new connections for %s", serveAfter)
		}
		select {
		case err := <-done:
			return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
		case <-time.After(serveAfter):
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		return fmt.Errorf("drain within %s: %w", drain, err)
	}
	return nil
}
