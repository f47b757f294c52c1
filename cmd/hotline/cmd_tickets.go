package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"hotline/ticket"
)

func ticketsCommand() command {
	return command{
		summary: "list tickets of the ledger (--json for JSON lines)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := flag.NewFlagSet("tickets", flag.ContinueOnError)
			fs.SetOutput(stderr)
			ledgerFlags := addLedgerFlags(fs)
			asJSON := fs.Bool("json", false, "print one JSON object per line")
			caller := fs.String("caller", "", "only tickets of this contact number")
			status := fs.String("status", "", "only tickets in these statuses (comma separated)")
			unit := fs.String("unit", "", "only tickets of this unit")
			since := fs.String("since", "", "only tickets registered since this date (YYYY-MM-DD, local) or RFC 3339 time")
			limit := fs.Int("limit", 1000, "at most this many tickets, newest first")
			if err := fs.Parse(args); err != nil {
				return err
			}
			cfg, err := ledgerFlags.resolve()
			if err != nil {
				return err
			}
			s, err := cfg.OpenLedgerAsIs(ctx, nil)
			if err != nil {
				return err
			}
			defer s.Close()
			f := ticket.Filter{Caller: *caller, Unit: *unit, Limit: *limit}
			if *status != "" {
				for _, st := range strings.Split(*status, ",") {
					f.Status = append(f.Status, ticket.Status(strings.TrimSpace(st)))
				}
			}
			if *since != "" {
				t, err := parseSince(*since, s.Calendar().Location())
				if err != nil {
					return err
				}
				f.Since = t
			}
			ts, err := s.List(ctx, f)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(stdout)
				for _, t := range ts {
					if err := enc.Encode(t); err != nil {
						return err
					}
				}
				return nil
			}
			loc := s.Calendar().Location()
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NUMBER\tREGISTERED\tSTATUS\tKIND\tLINE\tUNIT\tCALLER")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.CreatedAt.In(loc).Format("2006-01-02 15:04"),
					t.Status, t.Kind, t.Line, t.UnitID, t.Caller)
			}
			return tw.Flush()
		},
	}
}

func parseSince(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t, nil
}
