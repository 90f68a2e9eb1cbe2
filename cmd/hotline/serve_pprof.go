package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/hotline-desk/hotline/channels"
)

// wirePprof serves Go's profiler on its own listener when HOTLINE_PPROF
// names one (e.g. 127.0.0.1:6060): for the SRE who needs to see where a
// loaded gateway spends its time. It is never on the API's address.
func (g *gateway) wirePprof(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("HOTLINE_PPROF listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	g.log.Info("profiler listening", "addr", ln.Addr().String())
	g.group.Add("pprof", channels.WorkerFunc(func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			srv.Close()
		}()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}))
	return nil
}
