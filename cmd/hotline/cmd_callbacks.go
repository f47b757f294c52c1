package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"hotline/ivr/callback"
	"hotline/telephony"
)

func callbacksCommand() command {
	return command{summary: "list scheduled, running and finished callbacks (回访)", run: runCallbacks}
}

func runCallbacks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("callbacks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ledgerFlags := addLedgerFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON (full numbers) instead of a table (masked numbers)")
	states := fs.String("state", "", "only these states, comma-separated: scheduled,running,done,failed,skipped,cancelled")
	ticket := fs.Int64("ticket", 0, "only the callbacks of this ticket id")
	limit := fs.Int("limit", 1000, "at most this many callbacks, by deadline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	filter := callback.Filter{Ticket: *ticket, Limit: *limit}
	var err error
	if filter.States, err = callback.ParseStates(*states); err != nil {
		return err
	}
	cfg, err := ledgerFlags.resolve()
	if err != nil {
		return err
	}
	// Listing must not create an empty ledger where none is.
	if _, err := os.Stat(cfg.Path(cfg.Ledger.Path)); err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	l, err := cfg.OpenLedgerAsIs(ctx, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	cbs, err := callback.NewLedgerStore(l, "cli").List(ctx, filter)
	if err != nil {
		return err
	}
	if *asJSON {
		if cbs == nil {
			cbs = []callback.Callback{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cbs)
	}
	return printCallbacks(stdout, cbs)
}

func printCallbacks(w io.Writer, cbs []callback.Callback) error {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.Local
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTICKET\tKIND\tNUMBER\tSTATE\tATTEMPTS\tLAST\tSCORE\tNOT BEFORE\tDUE\tNOTE")
	for _, c := range cbs {
		ticket := c.TicketNo
		if ticket == "" {
			ticket = fmt.Sprint(c.TicketID)
		}
		score := ""
		if c.Score != 0 {
			score = fmt.Sprint(c.Score)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, ticket, c.Kind, telephony.Mask(c.Number), c.State,
			c.Attempts, c.Outcome, score, c.NotBefore.In(loc).Format("01-02 15:04"), c.Due.In(loc).Format("01-02 15:04"), c.Note)
	}
	if err := tw.Flush(); err != nil {
		return errors.New("write callbacks table: " + err.Error())
	}
	return nil
}
