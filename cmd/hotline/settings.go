package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/ticketing"
	"github.com/hotline-desk/hotline/ticketing/store/postgres"
	"github.com/hotline-desk/hotline/ticketing/store/sqlite"
)

// DefaultDataDir is where the embedded store and the admin token live
// unless --data says otherwise.
const DefaultDataDir = "./hotline-data"

// storeFlags are the flags every command that opens the store takes.
type storeFlags struct {
	configPath string
	dataDir    string
	db         string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "", "YAML config `FILE` (desk, agents, shifts, routing, SLA, channels); env HOTLINE_CONFIG")
	fs.StringVar(&f.dataDir, "data", DefaultDataDir, "data `DIR`: SQLite file, journals, admin token; env HOTLINE_DATA")
	fs.StringVar(&f.db, "db", "", "store `URL`: postgres://… selects PostgreSQL; default SQLite in --data; env HOTLINE_DB")
}

// settings is the resolved configuration of one command run.
type settings struct {
	cfg        *config.Config
	configPath string
	dataDir    string
	// pprof is HOTLINE_PPROF: where to serve Go's profiler, if anywhere.
	pprof string
	// getenv reads the environment the command was given: secrets named
	// by *_env keys come from it.
	getenv func(string) string
}

// override is one flag that overrides a config key when it is given.
type override struct {
	flag string
	set  func(c *config.Config, v string)
}

// load resolves defaults, then the YAML file, then the flags given on the
// command line, then the HOTLINE_* environment (SPEC §3: env wins).
func (f *storeFlags) load(fs *flag.FlagSet, env *cliEnv, overrides ...override) (*settings, error) {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	s := &settings{configPath: f.configPath, dataDir: f.dataDir, getenv: env.getenv}
	if v := strings.TrimSpace(env.getenv("HOTLINE_CONFIG")); v != "" {
		s.configPath = v
	}
	if v := strings.TrimSpace(env.getenv("HOTLINE_DATA")); v != "" {
		s.dataDir = v
	}
	s.pprof = strings.TrimSpace(env.getenv("HOTLINE_PPROF"))
	cfg := config.Default()
	if s.configPath != "" {
		var err error
		if cfg, err = config.Load(s.configPath); err != nil {
			return nil, err
		}
	}
	if given["db"] {
		cfg.Store.URL = f.db
	}
	for _, o := range overrides {
		if given[o.flag] {
			o.set(cfg, fs.Lookup(o.flag).Value.String())
		}
	}
	if err := cfg.ApplyEnv(env.getenv); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s.cfg = cfg
	return s, nil
}

// openStore opens and migrates the configured store: PostgreSQL when
// store.url is set, else SQLite in the data directory.
func (s *settings) openStore(ctx context.Context, log *slog.Logger) (ticketing.Store, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if url := s.cfg.Store.URL; url != "" {
		st, err := postgres.Open(ctx, url, log)
		if err != nil {
			return nil, "", err
		}
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, "", err
		}
		return st, "postgres", nil
	}
	if err := os.MkdirAll(s.dataDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("data directory: %w", err)
	}
	st, err := sqlite.Open(filepath.Join(s.dataDir, "hotline.db"), log)
	if err != nil {
		return nil, "", err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, "", err
	}
	return st, "sqlite", nil
}

// desk builds the ticket core's service from the configuration.
func (s *settings) desk(st ticketing.Store, log *slog.Logger) *ticketing.Desk {
	return ticketing.NewDesk(st, ticketing.DeskConfig{
		Prefix: s.cfg.Desk.TicketPrefix, Location: s.cfg.Desk.Location(),
		ReopenWindow: s.cfg.Desk.ReopenWindow.Std(), Log: log,
	})
}

func newLogger(env *cliEnv) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(env.getenv("HOTLINE_LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(env.getenv("HOTLINE_LOG_FORMAT")) == "json" {
		return slog.New(slog.NewJSONHandler(env.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.stderr, opts))
}
