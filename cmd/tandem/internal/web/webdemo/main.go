// Command webdemo serves the status page (package web) without a
// director: the fixture document of package webtest, or a document saved
// with `tandem status --json` (-status FILE, re-read at each request).
// It prints the page's URL on its first line of output and serves until
// interrupted. The browser tests of integration/internal/browser drive
// it, since package web is internal to cmd/tandem; people use it to look
// at the page:
//
//	go run ./cmd/tandem/internal/web/webdemo -listen 127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/web"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/web/webtest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	file := flag.String("status", "", "serve this status document (JSON) instead of the fixture")
	flag.Parse()
	log.SetFlags(0)

	get := func(context.Context) (*status.Status, error) { return webtest.Status(), nil }
	if *file != "" {
		get = func(context.Context) (*status.Status, error) {
			b, err := os.ReadFile(*file)
			if err != nil {
				return nil, err
			}
			var st status.Status
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("%s: %w", *file, err)
			}
			return &st, nil
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: web.Handler(get), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
