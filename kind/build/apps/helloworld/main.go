// Command helloworld is the HTTP server the suite deploys in every cluster. Its page has the
// shape of the aks-helloworld sample the seed transcripts show: the TITLE variable appears in
// the <title> and in the "logo" div, so a client's curl output names the answering cluster.
//
// It listens on :$PORT (default 8080), serves /healthz for probes, and on SIGTERM stops
// accepting connections, lets in-flight requests finish (bounded by DRAIN_TIMEOUT, default
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
	"strings"
	"syscall"
	"time"
)

const defaultTitle = "Welcome to Azure Kubernetes Service (AKS) 'helloworld'"

func main() {
	logger := log.New(os.Stderr, "helloworld: ", log.LstdFlags)
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		logger.Fatal(err)
	}
	ln, err := net.Listen("tcp", ":"+cfg.port)
	if err != nil {
		logger.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger.Printf("serving %q on %s", cfg.title, ln.Addr())
	if err := serve(ctx, ln, newHandler(cfg.title), cfg.drain); err != nil {
		logger.Fatal(err)
	}
	logger.Print("drained, exiting")
}

type config struct {
	title string
	port  string
	drain time.Duration
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
	return cfg, nil
}

// newHandler serves the page on every path but /healthz, as the sample app does.
func newHandler(title string) http.Handler {
	page := []byte(renderPage(title))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	return mux
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

// serve runs the server on ln until ctx is done, then shuts it down: the listener closes at
// once, in-flight requests get up to drain to finish. It returns nil after a clean drain.
func serve(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
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
