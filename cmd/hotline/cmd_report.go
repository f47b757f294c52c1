package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"hotline/ticket"
	"hotline/ticket/report"
)

func reportCommand() command {
	return command{
		summary: "the monthly complaint report (集团顾客投诉月报): --month 2026-10 --format html|csv|xlsx",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := flag.NewFlagSet("report", flag.ContinueOnError)
			fs.SetOutput(stderr)
			ledgerFlags := addLedgerFlags(fs)
			month := fs.String("month", "", "the month, YYYY-MM (default: last month)")
			format := fs.String("format", "html", "html, csv or xlsx")
			out := fs.String("o", "", "write to this file instead of standard output")
			publish := fs.Bool("publish", false, "freeze the report of the month (stored with its hash); refused when published already unless -force")
			force := fs.Bool("force", false, "build from the ledger now even when the month is published (with -publish: publish again)")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if !slices.Contains(report.Formats, *format) {
				return fmt.Errorf("-format %q: want html, csv or xlsx", *format)
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
			loc := s.Calendar().Location()
			if *month == "" {
				now := time.Now().In(loc)
				*month = time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, loc).Format("2006-01")
			}
			if _, _, err := s.MonthBounds(*month); err != nil {
				return err
			}
			build := func(f ticket.MonthFigures) report.Report {
				return report.Build(f, cfg.Deadlines, report.Directory{Lines: cfg.Lines, Units: cfg.Units}, cfg.Report, loc)
			}
			r, frozen, err := report.Get(ctx, s, *month, *force || *publish, build)
			if err != nil {
				return err
			}
			if *publish {
				sum, err := report.Publish(ctx, s, r, *force)
				if errors.Is(err, ticket.ErrPublished) {
					return fmt.Errorf("the report of %s is published already; -force to publish it again", *month)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "published the report of %s, sha256 %s\n", *month, sum)
			} else if frozen != nil {
				fmt.Fprintf(stderr, "the report of %s as published at %s (sha256 %s); -force for today's figures\n",
					*month, frozen.PublishedAt.In(loc).Format("2006-01-02 15:04"), frozen.SHA256)
			}
			var buf bytes.Buffer
			if err := report.Render(&buf, r, *format); err != nil {
				return err
			}
			if *out == "" {
				_, err := stdout.Write(buf.Bytes())
				return err
			}
			return os.WriteFile(*out, buf.Bytes(), 0o644)
		},
	}
}
