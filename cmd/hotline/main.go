// Command hotline is the 96596 hotline service and its tools.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands; each lives in its own cmd_*.go file.
func commands() map[string]command {
	return map[string]command{
		"backup":    backupCommand(),
		"callbacks": callbacksCommand(),
		"dial":      dialCommand(),
		"migrate":   migrateCommand(),
		"qrcode":    qrcodeCommand(),
		"report":    reportCommand(),
		"serve":     serveCommand(),
		"tickets":   ticketsCommand(),
		"users":     usersCommand(),
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	name := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" {
		usage(stderr, cmds)
		return 0
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "hotline: unknown command %q\n", name)
		usage(stderr, cmds)
		return 2
	}
	if err := cmd.run(ctx, args, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "hotline %s: %v\n", name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: hotline [command] [flags]   (default command: serve)")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}
