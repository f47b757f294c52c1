package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"hotline/ticket"
)

func backupCommand() command {
	return command{
		summary: "copy the live ledger to FILE (consistent, safe while the service runs)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := flag.NewFlagSet("backup", flag.ContinueOnError)
			fs.SetOutput(stderr)
			ledger := addLedgerFlags(fs)
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return fmt.Errorf("usage: hotline backup [-config FILE] [-db LEDGER] FILE")
			}
			src, err := ledger.ledgerPath()
			if err != nil {
				return err
			}
			if err := ticket.Backup(ctx, src, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backed up %s to %s\n", src, fs.Arg(0))
			return nil
		},
	}
}
