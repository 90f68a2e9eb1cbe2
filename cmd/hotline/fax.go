package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
	"github.com/hotline-desk/hotline/fax"
)

// cmdFax is `hotline fax ingest FILE --from NUMBER …`: the hook HylaFAX's
// faxrcvd and Asterisk's dialplan call for each received fax. It exits 0
// only when the fax's ticket is committed.
func cmdFax(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("fax ingest", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf storeFlags
	sf.register(fs)
	var doc channels.FaxDocument
	fs.StringVar(&doc.Caller, "from", "", "the sender's `NUMBER` (any form: 021-5555 0100, +86…)")
	fs.StringVar(&doc.StationID, "station-id", "", "the sending machine's station `ID` (TSI)")
	fs.StringVar(&doc.Status, "status", "", "`SUCCESS` or FAILURE, as Asterisk's FAXSTATUS (default SUCCESS)")
	fs.StringVar(&doc.Error, "error", "", "why the fax failed (`TEXT`), e.g. Asterisk's FAXERROR")
	fs.IntVar(&doc.Pages, "pages", 0, "the page count the fax machine reported (`N`)")
	gateway := fs.String("url", "", "the running gateway's `URL` (default http://HTTP_LISTEN)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: hotline fax ingest FILE --from NUMBER [--station-id ID] [--status S] [--error E] [flags]

Hands a received fax (TIFF or PDF) to the running gateway, over its HTTP API
with the admin token of --data, and prints the ticket. With --db, or when the
gateway does not answer, it writes the ticket straight to the store; the
gateway then sends the fax-to-mail message. A failed fax may come without a
FILE (--status FAILURE). Exits non-zero when the fax was not taken.

Flags:
`)
		fs.PrintDefaults()
	}
	if len(args) == 0 || (args[0] != "ingest" && !isHelp(args[0])) {
		fs.Usage()
		return usageError{"say ingest"}
	}
	if isHelp(args[0]) {
		fs.Usage()
		return flag.ErrHelp
	}
	// FILE may come before or after the flags.
	var files []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	failed := doc.Status != "" && !strings.EqualFold(doc.Status, "SUCCESS")
	switch {
	case len(files) > 1:
		return usageError{"one FILE at a time"}
	case len(files) == 0 && !failed:
		return usageError{"say which FILE (only a failed fax, --status FAILURE, may come without one)"}
	}
	if len(files) == 1 {
		fi, err := os.Stat(files[0])
		if err != nil {
			return err
		}
		if fi.Size() > maxFaxBytes {
			return fmt.Errorf("%s is %d MiB; a fax may be at most %d MiB", files[0], fi.Size()>>20, maxFaxBytes>>20)
		}
		if doc.Data, err = os.ReadFile(files[0]); err != nil {
			return err
		}
		doc.Name = filepath.Base(files[0])
		doc.ExternalID = fax.FileKey(doc.Data)
	} else {
		doc.ExternalID = "ingest:" + fax.FileKey([]byte(fmt.Sprint(doc.Caller, doc.StationID, doc.Status, doc.Error, time.Now().UnixNano())))
	}
	doc.Source = "ingest"
	doc.ReceivedAt = time.Now()
	s, err := sf.load(fs, env)
	if err != nil {
		return err
	}

	if s.cfg.Store.URL == "" {
		res, err := ingestOverHTTP(ctx, s, *gateway, doc)
		switch {
		case err == nil:
			printIngest(env, res)
			return nil
		case !errors.Is(err, fax.ErrUnreachable) && !errors.Is(err, errNoGateway):
			return err
		}
		fmt.Fprintf(env.stderr, "hotline fax ingest: %v; writing to the store in %s directly\n", err, s.dataDir)
	}
	return ingestToStore(ctx, env, s, doc)
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" || a == "help" }

var errNoGateway = errors.New("no gateway to hand the fax to")

// ingestOverHTTP hands the fax to the running gateway.
func ingestOverHTTP(ctx context.Context, s *settings, base string, doc channels.FaxDocument) (fax.IngestResult, error) {
	if base == "" {
		if config.IsOff(s.cfg.HTTP.Listen) {
			return fax.IngestResult{}, fmt.Errorf("%w: http.listen is off", errNoGateway)
		}
		base = "http://" + s.cfg.HTTP.Listen
	}
	tok, err := os.ReadFile(filepath.Join(s.dataDir, "admin-token"))
	if err != nil {
		return fax.IngestResult{}, fmt.Errorf("%w: no admin token in %s", errNoGateway, s.dataDir)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return fax.PostIngest(ctx, http.DefaultClient, fax.IngestRequest{BaseURL: base, Token: strings.TrimSpace(string(tok)), Doc: doc})
}

// ingestToStore makes the ticket in the store itself, as the gateway would.
func ingestToStore(ctx context.Context, env *cliEnv, s *settings, doc channels.FaxDocument) error {
	log := newLogger(env)
	st, _, err := s.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	roster, err := s.roster()
	if err != nil {
		return err
	}
	holder := &channels.RosterHolder{}
	holder.Store(roster)
	svc := s.faxService(channels.NewIntake(s.desk(st, log), nil, log), holder, nil, log)
	o, err := svc.Process(ctx, doc)
	if err != nil {
		return err
	}
	res := fax.IngestResult{Ticket: o.Ticket, Created: o.Created, Duplicate: o.Duplicate, Status: o.Status, Pages: o.Pages}
	if o.Problem != nil {
		res.Problem = o.Problem.Error()
	}
	printIngest(env, res)
	return nil
}

func printIngest(env *cliEnv, r fax.IngestResult) {
	what := "created"
	if r.Duplicate {
		what = "already taken"
	}
	fmt.Fprintf(env.stdout, "%s %s: %d pages, %s\n", r.Ticket, what, r.Pages, r.Status)
	if r.Problem != "" {
		fmt.Fprintf(env.stdout, "  %s\n", r.Problem)
	}
}
