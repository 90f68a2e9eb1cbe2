package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hotline-desk/hotline/ticketing/report"
)

// cmdReport prints the KPI report of a period, read from the store
// directly (the gateway need not run).
func cmdReport(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf storeFlags
	sf.register(fs)
	period := fs.String("period", "week", "`day`, week or month: the last complete one (yesterday, last Monday-Sunday, last month)")
	from := fs.String("from", "", "first `DATE` (YYYY-MM-DD, desk timezone) instead of --period")
	to := fs.String("to", "", "last `DATE`, inclusive (default: --from)")
	format := fs.String("format", "table", "`FORMAT`: table, csv, json or xlsx")
	out := fs.String("out", "", "write to `FILE` instead of standard output (xlsx needs it unless stdout is redirected)")
	chart := fs.String("chart", "", "also write the PNG chart (daily volume by channel, SLA trend) to `FILE`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline report [--period day|week|month | --from DATE [--to DATE]] [--format table|csv|json|xlsx] [flags]\n\n"+
			"Prints the service desk's KPIs (SPEC §6) for the tickets received in a period: record completeness\n"+
			"with the incomplete records named, SLA compliance, first-contact resolution, response and\n"+
			"resolution times, calls, escalations, complaints.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected arguments"}
	}
	s, err := sf.load(fs, env)
	if err != nil {
		return err
	}
	loc := s.cfg.Desk.Location()
	var p report.Period
	switch {
	case *from != "":
		p, err = report.ParsePeriod(*from, firstNonEmpty(*to, *from), loc)
	case *to != "":
		return usageError{"--to needs --from"}
	default:
		p, err = report.Last(*period, time.Now(), loc)
	}
	if err != nil {
		return usageError{err.Error()}
	}
	st, _, err := s.openStore(ctx, newLogger(env))
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := report.Generate(ctx, st, p, time.Now())
	if err != nil {
		return err
	}
	var w io.Writer = env.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := report.Write(w, k, *format); err != nil {
		return err
	}
	if *chart != "" {
		b, err := report.Chart(k)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*chart, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
