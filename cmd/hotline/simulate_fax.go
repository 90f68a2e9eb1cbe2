package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/config"
)

// simulatedFax is a real 3-page fax as Asterisk writes it: G3 1-D with
// fill bits, standard resolution, made by Ghostscript from
// fax/testdata/fax.ps.
//
//go:embed simulate_fax.tif
var simulatedFax []byte

// simulateFax sends a real fax to a running gateway: dropped into its fax
// inbox with a sidecar, as Asterisk's ReceiveFAX and dialplan leave it, or
// over the ingest route, as `hotline fax ingest` does.
func simulateFax(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("simulate fax", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf storeFlags
	sf.register(fs)
	from := fs.String("from", "021-55550100", "the sender's `NUMBER`")
	station := fs.String("station-id", "HOTLINE SIMULATOR", "the sender's station `ID`")
	via := fs.String("via", "inbox", "`inbox` (drop the file into the fax inbox) or ingest (post it to the gateway's HTTP API)")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for the gateway to take the fax (inbox)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline simulate fax [flags]\n\nSends a real 3-page G3 fax to a running gateway, into its fax inbox (with a sidecar)\nor over its ingest route, and prints where it landed.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := sf.load(fs, env)
	if err != nil {
		return err
	}
	// Every simulated fax is a new file: bytes after the TIFF's data
	// change its sha256, not its pages.
	stamp := time.Now().Format("20060102-150405.000000")
	data := append(append([]byte(nil), simulatedFax...), []byte("\nhotline simulate "+stamp)...)
	switch *via {
	case "ingest":
		doc := channels.FaxDocument{Caller: *from, StationID: *station, Status: "SUCCESS", Pages: 3, Name: "simulated-" + stamp + ".tif",
			Data: data, ReceivedAt: time.Now()}
		res, err := ingestOverHTTP(ctx, s, "", doc)
		if err != nil {
			return err
		}
		printIngest(env, res)
		return nil
	case "inbox":
	default:
		return usageError{"--via is inbox or ingest"}
	}
	if config.IsOff(s.cfg.Fax.Inbox) {
		return usageError{"the fax inbox is off"}
	}
	dir := s.cfg.Fax.InboxDir(s.dataDir)
	name := "simulated-" + strings.ReplaceAll(stamp, ".", "-") + ".tif"
	side, _ := json.Marshal(map[string]any{"caller": *from, "station_id": *station, "status": "SUCCESS", "pages": 3,
		"received_at": time.Now().Format(time.RFC3339)})
	// Written under temporary names and renamed, the sidecar first, so the
	// gateway never sees half a file.
	for _, f := range []struct {
		name string
		data []byte
	}{{name + ".json", side}, {name, data}} {
		tmp := filepath.Join(dir, "."+f.name+".part")
		if err := os.WriteFile(tmp, f.data, 0o640); err != nil {
			return fmt.Errorf("write into the fax inbox: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.stdout, "dropped %s into %s\n", name, dir)
	deadline := time.Now().Add(*wait)
	for time.Now().Before(deadline) {
		for _, sub := range []string{"done", "failed"} {
			if _, err := os.Stat(filepath.Join(dir, sub, name)); err == nil {
				fmt.Fprintf(env.stdout, "taken: %s/%s\n", sub, name)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the gateway did not take %s within %v (is it running with this inbox?)", name, *wait)
}
