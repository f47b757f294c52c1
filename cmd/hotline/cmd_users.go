package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"hotline/console/auth"
)

// usersCommand manages the console's accounts: the first admin is made
// with it.
func usersCommand() command {
	return command{
		summary: "manage console accounts: users add|passwd|disable|enable",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runUsers(ctx, args, os.Stdin, stdout, stderr)
		},
	}
}

const usersUsage = `usage:
  hotline users add     --name NAME --role agent|unit|supervisor|admin [--unit UNIT] [--db FILE]
  hotline users passwd  --name NAME [--db FILE]
  hotline users disable --name NAME [--db FILE]
  hotline users enable  --name NAME [--db FILE]
The password is read from the first line of standard input (or of
--password-file); it must have at least 10 characters.`

func runUsers(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usersUsage)
		return errors.New("users: missing action")
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", envOr("HOTLINE_DB", "hotline.db"), "SQLite database file (env HOTLINE_DB)")
	name := fs.String("name", "", "user name (for agents: the agent id)")
	role := fs.String("role", "", "agent, unit, supervisor or admin")
	unit := fs.String("unit", "", "the unit of a unit user")
	pwFile := fs.String("password-file", "", "read the password from this file instead of standard input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return errors.New("--name is required")
	}
	db, err := sqlx.Open("sqlite3", *dbPath+"?_foreign_keys=on&_busy_timeout=5000&_journal_mode=WAL")
	if err != nil {
		return fmt.Errorf("open %s: %w", *dbPath, err)
	}
	defer db.Close()
	store, err := auth.NewSQLStore(ctx, db, nil)
	if err != nil {
		return err
	}
	readPassword := func() ([]byte, error) {
		in := stdin
		if *pwFile != "" {
			f, err := os.Open(*pwFile)
			if err != nil {
				return nil, fmt.Errorf("password file: %w", err)
			}
			defer f.Close()
			in = f
		}
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read password: %w", err)
		}
		return auth.HashPassword(strings.TrimRight(line, "\r\n"))
	}
	switch action {
	case "add":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		hash, err := readPassword()
		if err != nil {
			return err
		}
		if err := store.AddUser(ctx, auth.User{Name: *name, Role: r, Unit: *unit, Hash: hash}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", *name, r)
	case "passwd":
		hash, err := readPassword()
		if err != nil {
			return err
		}
		if err := store.SetPassword(ctx, *name, hash); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed\n", *name)
	case "disable", "enable":
		if err := store.SetDisabled(ctx, *name, action == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sd %s\n", action, *name)
	default:
		fmt.Fprintln(stderr, usersUsage)
		return fmt.Errorf("users: unknown action %q", action)
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
