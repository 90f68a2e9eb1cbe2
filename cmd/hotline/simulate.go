package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// simulators send a real test contact over the real protocol to a running
// gateway: `hotline simulate call|mail|fax`. Each channel adds its own in a
// file of its own and lists it here.
func simulators() map[string]func(ctx context.Context, env *cliEnv, args []string) error {
	return map[string]func(ctx context.Context, env *cliEnv, args []string) error{
		"fax":  simulateFax,
		"mail": cmdSimulateMail,
		"call": simulateCall,
	}
}

func cmdSimulate(ctx context.Context, env *cliEnv, args []string) error {
	sims := simulators()
	var names []string
	for n := range sims {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintf(env.stdout, "Usage: hotline simulate %s [flags]\n\nSends a real test contact over the real protocol to a running gateway.\nRun 'hotline simulate KIND --help' for the flags of one.\n", strings.Join(names, "|"))
		if len(args) == 0 {
			return usageError{"say what to simulate"}
		}
		return nil
	}
	sim, ok := sims[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("cannot simulate %q; choose %s", args[0], strings.Join(names, ", "))}
	}
	return sim(ctx, env, args[1:])
}
