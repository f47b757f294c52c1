package main

import (
	"flag"

	"hotline/config"
)

// ledgerFlags are the -config and -db flags every ledger tool takes.
type ledgerFlags struct{ config, db *string }

func addLedgerFlags(fs *flag.FlagSet) ledgerFlags {
	return ledgerFlags{
		config: fs.String("config", "", "configuration file (default $HOTLINE_CONFIG, else built-in defaults)"),
		db:     fs.String("db", "", "ledger file (default: ledger.path of the configuration)"),
	}
}

// resolve reads the configuration; -db, when given, replaces its ledger.
func (f ledgerFlags) resolve() (*config.Config, error) {
	cfg, err := config.Resolve(*f.config)
	if err != nil {
		return nil, err
	}
	if *f.db != "" {
		cfg.Ledger.Path, cfg.File = *f.db, ""
	}
	return cfg, nil
}

// ledgerPath is the ledger file the flags name; with -db the configuration
// is not read at all.
func (f ledgerFlags) ledgerPath() (string, error) {
	if *f.db != "" {
		return *f.db, nil
	}
	cfg, err := f.resolve()
	if err != nil {
		return "", err
	}
	return cfg.Path(cfg.Ledger.Path), nil
}
