package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"hotline/ticket"
	"hotline/ticket/calendar"
)

// Resolve loads the configuration named by path, or by $HOTLINE_CONFIG when
// path is "", or returns the defaults when neither names a file.
func Resolve(path string) (*Config, error) {
	if path == "" {
		path = os.Getenv(EnvFile)
	}
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}

// OpenLedger opens the ledger this configuration describes, with its
// calendar, deadlines and repeat window, and brings the units table in line
// with the directory.
func (c *Config) OpenLedger(ctx context.Context, log *slog.Logger, opts ...ticket.Option) (*ticket.Store, error) {
	s, err := c.OpenLedgerAsIs(ctx, log, opts...)
	if err != nil {
		return nil, err
	}
	if err := s.SyncUnits(ctx, c.Units); err != nil {
		s.Close()
		return nil, fmt.Errorf("sync units: %w", err)
	}
	return s, nil
}

// OpenLedgerAsIs opens the ledger like OpenLedger but leaves the units
// table alone (for tools that only read).
func (c *Config) OpenLedgerAsIs(ctx context.Context, log *slog.Logger, opts ...ticket.Option) (*ticket.Store, error) {
	cal, err := calendar.New(c.Calendar)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	all := append([]ticket.Option{
		ticket.WithCalendar(cal),
		ticket.WithDeadlines(c.Deadlines),
		ticket.WithRepeatWindow(c.Repeat.Window),
		ticket.WithLogger(log),
	}, opts...)
	return ticket.Open(ctx, c.Path(c.Ledger.Path), all...)
}
