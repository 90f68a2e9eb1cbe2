// Command hotline is the Hotline contact-center gateway: `hotline serve`
// runs it; the other commands administer it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what a command may touch of the process, so that tests can run
// commands in-process.
type cliEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"serve", "run the gateway (HTTP API, SMTP, SIP, fax inbox, Asterisk ARI)", cmdServe},
		{"migrate", "apply the store's schema migrations and exit", cmdMigrate},
		{"tickets", "list tickets, or show one: tickets list | tickets show NUMBER", cmdTickets},
		{"fax", "hand a received fax to the gateway: fax ingest FILE --from NUMBER", cmdFax},
		{"report", "print the KPI report of a period: report --period day|week|month --format table|csv|json|xlsx", cmdReport},
		{"simulate", "send a real test call, mail or fax to a running gateway", cmdSimulate},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:]))
}

func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(env.stderr, "hotline %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(env.stderr, "hotline %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(env.stderr, "hotline: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return 2
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintf(w, "Hotline %s: the contact-center gateway for IT service desks.\n\nUsage: hotline COMMAND [flags]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'hotline COMMAND --help' for a command's flags.\n")
}

func cmdVersion(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "hotline %s\n", version)
	return nil
}
