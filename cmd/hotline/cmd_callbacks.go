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

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"hotline/ivr/callback"
	"hotline/telephony"
)

func callbacksCommand() command {
	return command{summary: "list scheduled, running and finished callbacks (回访)", run: runCallbacks}
}

func runCallbacks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("callbacks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ledger := fs.String("ledger", envOr("HOTLINE_LEDGER", "var/hotline.db"), "ledger database file (env HOTLINE_LEDGER)")
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
	if _, err := os.Stat(*ledger); err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	db, err := sqlx.Open("sqlite3", "file:"+*ledger+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer db.Close()
	cbs, err := callback.NewSQLStore(db).List(ctx, filter)
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

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
