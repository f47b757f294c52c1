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

	"golang.org/x/crypto/bcrypt"

	"hotline/console/auth"
	"hotline/console/ticketledger"
	"hotline/ticket"
)

// usersCommand manages the console's accounts: the first admin is made
// with it.
func usersCommand() command {
	return command{
		summary: "manage console accounts: users add|passwd|disable|enable",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runUsers(ctx, args, bcrypt.DefaultCost, os.Stdin, stdout, stderr)
		},
	}
}

const usersUsage = `usage:
  hotline users add     --name NAME --role agent|unit|supervisor|admin [--unit UNIT] [--config FILE | --db FILE]
                        (a unit user's unit must be in the ledger's directory)
  hotline users passwd  --name NAME [--config FILE | --db FILE]
  hotline users disable --name NAME [--config FILE | --db FILE]
  hotline users enable  --name NAME [--config FILE | --db FILE]
The password is read from the first line of standard input (or of
--password-file); it must have at least 10 characters.`

// runUsers runs an action; cost is the bcrypt cost of new hashes.
func runUsers(ctx context.Context, args []string, cost int, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usersUsage)
		return errors.New("users: missing action")
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ledgerFlags := addLedgerFlags(fs)
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
	path, err := ledgerFlags.ledgerPath()
	if err != nil {
		return err
	}
	ledger, err := ticket.Open(ctx, path)
	if err != nil {
		return err
	}
	defer ledger.Close()
	store := ticketledger.NewUsers(ledger)
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
		return auth.HashPasswordCost(strings.TrimRight(line, "\r\n"), cost)
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
