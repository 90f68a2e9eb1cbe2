package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/fax"
	"github.com/hotline-desk/hotline/metrics"
)

// maxFaxBytes bounds one fax file, on the inbox and on the ingest route.
const maxFaxBytes = 64 << 20

// wireFax starts the fax channel: the service every fax goes through (also
// for fax providers' mail, which the mail channel hands to g.faxes), the
// ingest route of `hotline fax ingest`, and the inbox watcher.
func (g *gateway) wireFax(ctx context.Context) error {
	cfg := g.s.cfg
	mon := metrics.NewFax(g.mon)
	log := g.log.With("channel", "fax")
	g.faxes = g.s.faxService(g.intake, g.roster, mon, log)
	g.mounts = append(g.mounts, func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		mux.HandleFunc("POST "+fax.IngestPath, auth(fax.IngestHandler(g.faxes, maxFaxBytes)))
	})
	dir := cfg.Fax.InboxDir(g.s.dataDir)
	if config.IsOff(cfg.Fax.Inbox) {
		g.log.Info("fax inbox off")
		return nil
	}
	inbox, err := fax.NewInbox(g.faxes, fax.InboxConfig{Dir: dir, MaxBytes: maxFaxBytes, Location: cfg.Desk.Location()}, mon, log)
	if err != nil {
		return err
	}
	g.group.Add("fax-inbox", inbox)
	return nil
}

// faxService builds the fax service from the configuration; `serve` and
// `hotline fax ingest --db` share it.
func (s *settings) faxService(intake fax.Intake, roster fax.Roster, mon *metrics.Fax, log *slog.Logger) *fax.Service {
	cfg := s.cfg
	return fax.NewService(intake, roster, fax.Config{DeskAddresses: cfg.Desk.Addresses, ConsoleURL: cfg.Desk.ConsoleURL,
		Location: cfg.Desk.Location()}, mon, log)
}
