package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Worker is a long-running part of the gateway: a listener, a watcher, a
// job runner. Run returns nil after ctx is done and the worker has stopped
// gracefully, or an error when it cannot go on. A worker binds its sockets
// before it is handed to a Group, so that a port in use fails the start
// rather than a running gateway.
type Worker interface {
	Run(ctx context.Context) error
}

// WorkerFunc adapts a function to Worker.
type WorkerFunc func(ctx context.Context) error

func (f WorkerFunc) Run(ctx context.Context) error { return f(ctx) }

// Group runs the gateway's workers under one errgroup: when one fails, the
// others are stopped, and Run returns the first failure.
type Group struct {
	log     *slog.Logger
	mu      sync.Mutex
	names   []string
	workers []Worker
	failed  map[string]error
	running bool
}

func NewGroup(log *slog.Logger) *Group {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Group{log: log, failed: map[string]error{}}
}

// Add puts a named worker in the group. Call before Run.
func (g *Group) Add(name string, w Worker) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.names = append(g.names, name)
	g.workers = append(g.workers, w)
}

// Run runs every worker until ctx is done or one fails.
func (g *Group) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	g.mu.Lock()
	g.running = true
	names, workers := g.names, g.workers
	g.mu.Unlock()
	for i, w := range workers {
		name := names[i]
		eg.Go(func() error {
			g.log.Info("worker started", "worker", name)
			err := w.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				g.mu.Lock()
				g.failed[name] = err
				g.mu.Unlock()
				g.log.Error("worker failed", "worker", name, "error", err)
				return fmt.Errorf("%s: %w", name, err)
			}
			g.log.Info("worker stopped", "worker", name)
			return nil
		})
	}
	err := eg.Wait()
	g.mu.Lock()
	g.running = false
	g.mu.Unlock()
	return err
}

// Ready reports an error while the group is not running or a worker failed.
func (g *Group) Ready() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.running {
		return errors.New("workers are not running")
	}
	for name, err := range g.failed {
		return fmt.Errorf("worker %s failed: %w", name, err)
	}
	return nil
}
