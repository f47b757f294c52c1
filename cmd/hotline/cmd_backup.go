package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"hotline/config"
	"hotline/ticket"
)

func backupCommand() command {
	return command{
		summary: "copy the live ledger to FILE (consistent, safe while the service runs)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := flag.NewFlagSet("backup", flag.ContinueOnError)
			fs.SetOutput(stderr)
			cfgPath := fs.String("config", "", "configuration file (default $HOTLINE_CONFIG, else built-in defaults)")
			db := fs.String("db", "", "ledger file (default: ledger.path of the configuration)")
			if err := fs.Parse(args); err != nil {
				return err
			}
			if fs.NArg() != 1 {
				return fmt.Errorf("usage: hotline backup [-config FILE] [-db LEDGER] FILE")
			}
			src := *db
			if src == "" {
				cfg, err := config.Resolve(*cfgPath)
				if err != nil {
					return err
				}
				src = cfg.Path(cfg.Ledger.Path)
			}
			if err := ticket.Backup(ctx, src, fs.Arg(0)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backed up %s to %s\n", src, fs.Arg(0))
			return nil
		},
	}
}
