package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"hotline/ticket"
)

func migrateCommand() command {
	return command{
		summary: "create or bring the ledger's schema up to date",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
			fs.SetOutput(stderr)
			ledger := addLedgerFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			path, err := ledger.ledgerPath()
			if err != nil {
				return err
			}
			applied, err := ticket.Migrate(ctx, path)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(stdout, "%s: schema is current\n", path)
				return nil
			}
			fmt.Fprintf(stdout, "%s: applied migrations %v\n", path, applied)
			return nil
		},
	}
}
