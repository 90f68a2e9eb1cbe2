package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/hotline-desk/hotline/ticketing"
)

func cmdMigrate(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf storeFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline migrate [flags]\n\nApplies the store's schema migrations (serve does this too) and exits.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := sf.load(fs, env)
	if err != nil {
		return err
	}
	st, kind, err := s.openStore(ctx, newLogger(env))
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(env.stdout, "%s store is up to date\n", kind)
	return nil
}

func cmdTickets(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("tickets", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var sf storeFlags
	sf.register(fs)
	var p ticketing.ListParams
	var channel, status, kind string
	fs.StringVar(&channel, "channel", "", "list: only this `CHANNEL` (phone, email, fax, web)")
	fs.StringVar(&status, "status", "", "list: only this `STATUS`")
	fs.StringVar(&kind, "kind", "", "list: only this `KIND`")
	fs.StringVar(&p.Query, "q", "", "list: `TEXT` to find in number, subject, description or caller")
	fs.IntVar(&p.Limit, "limit", 50, "list: at most `N` tickets, newest first")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline tickets list [flags]\n       hotline tickets show [flags] NUMBER\n\nReads the store directly (the gateway need not run).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return usageError{"say list or show"}
	}
	sub, rest := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "-help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	p.Channel, p.Status, p.Kind = ticketing.Channel(channel), ticketing.Status(status), ticketing.Kind(kind)
	s, err := sf.load(fs, env)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if fs.NArg() > 0 {
			return usageError{"list takes no arguments"}
		}
	case "show":
		if fs.NArg() != 1 {
			return usageError{"show takes one ticket NUMBER"}
		}
	default:
		return usageError{fmt.Sprintf("unknown subcommand %q: say list or show", sub)}
	}
	log := newLogger(env)
	st, _, err := s.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	desk := s.desk(st, log)
	if sub == "show" {
		t, err := desk.Get(ctx, fs.Arg(0))
		if err != nil {
			return fmt.Errorf("ticket %s: %w", fs.Arg(0), err)
		}
		if *asJSON {
			return printJSON(env, t)
		}
		printTicket(env, t, s)
		return nil
	}
	page, err := desk.List(ctx, p)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, page.Tickets)
	}
	tw := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tCHANNEL\tKIND\tPRIO\tSTATUS\tCALLER\tSUBJECT")
	for _, t := range page.Tickets {
		caller := strings.TrimSpace(t.Caller.Name + " " + firstNonEmpty(t.Caller.Phone, t.Caller.Email))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.Channel, t.Kind, t.Priority, t.Status, caller, t.Subject)
	}
	return tw.Flush()
}

func printTicket(env *cliEnv, t *ticketing.Ticket, s *settings) {
	loc := s.cfg.Desk.Location()
	w := env.stdout
	fmt.Fprintf(w, "%s  %s\n", t.Number, t.Subject)
	fmt.Fprintf(w, "  channel %s, kind %s, priority %s, status %s, tier %d\n", t.Channel, t.Kind, t.Priority, t.Status, t.Tier)
	fmt.Fprintf(w, "  caller  %s %s %s %s\n", t.Caller.Name, t.Caller.Phone, t.Caller.Email, t.Caller.Organization)
	if t.Assignee != "" || t.Group != "" {
		fmt.Fprintf(w, "  assignee %s, group %s\n", t.Assignee, t.Group)
	}
	fmt.Fprintf(w, "  received %s, created %s\n", t.ReceivedAt.In(loc).Format("2006-01-02 15:04:05"), t.CreatedAt.In(loc).Format("2006-01-02 15:04:05"))
	if t.Description != "" {
		fmt.Fprintf(w, "\n%s\n", t.Description)
	}
	if len(t.Events) > 0 {
		fmt.Fprintf(w, "\nTimeline:\n")
		for _, e := range t.Events {
			fmt.Fprintf(w, "  %s  %-18s %-16s %s\n", e.At.In(loc).Format("2006-01-02 15:04:05"), e.Type, e.Actor, e.Data)
		}
	}
	if len(t.Attachments) > 0 {
		fmt.Fprintf(w, "\nAttachments:\n")
		for _, a := range t.Attachments {
			fmt.Fprintf(w, "  #%d  %s  %s  %d bytes\n", a.ID, a.Name, a.ContentType, a.Size)
		}
	}
}

func printJSON(env *cliEnv, v any) error {
	enc := json.NewEncoder(env.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
