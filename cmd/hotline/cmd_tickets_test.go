package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hotline/config"
	"hotline/ticket"
)

// ledgerWith writes a ledger with three tickets and returns its path.
func ledgerWith(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	cfg := config.Default()
	cfg.Ledger.Path = path
	s, err := cfg.OpenLedger(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, caller := range []string{"13800000001", "13800000002", "13800000001"} {
		ref, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: string(rune('a' + i)), Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := s.Apply(ctx, ref.TicketID, ticket.Change{Action: ticket.ActTransfer, Unit: "freight"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestTicketsJSON(t *testing.T) {
	path := ledgerWith(t)
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"all", nil, 3},
		{"by caller", []string{"--caller", "13800000001"}, 2},
		{"by status", []string{"--status", "transferred"}, 1},
		{"by unit", []string{"--unit", "freight"}, 1},
		{"since", []string{"--since", "2000-01-01"}, 3},
		{"since the future", []string{"--since", "2999-01-01"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, append([]string{"tickets", "-db", path, "--json"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if out == "" {
				lines = nil
			}
			if len(lines) != tc.want {
				t.Fatalf("%d tickets, want %d:\n%s", len(lines), tc.want, out)
			}
			for _, l := range lines {
				var tk ticket.Ticket
				if err := json.Unmarshal([]byte(l), &tk); err != nil || !strings.HasPrefix(tk.Number, "96596-") {
					t.Errorf("line %q: %v", l, err)
				}
			}
		})
	}
}

func TestMigrateBackupReportCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "fresh.db")
	out, errOut, code := runCmd(t, "migrate", "-db", db)
	if code != 0 || !strings.Contains(out, "applied migrations") {
		t.Fatalf("migrate: exit %d, %q %q", code, out, errOut)
	}
	out, _, _ = runCmd(t, "migrate", "-db", db)
	if !strings.Contains(out, "schema is current") {
		t.Errorf("second migrate said %q", out)
	}
	src := ledgerWith(t)
	copyPath := filepath.Join(dir, "copy.db")
	if _, errOut, code := runCmd(t, "backup", "-db", src, copyPath); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	out, _, code = runCmd(t, "tickets", "-db", copyPath, "--json")
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Errorf("the backup lists %q, want 3 tickets", out)
	}
	month := "2026-11"
	for _, format := range []string{"html", "csv", "xlsx"} {
		file := filepath.Join(dir, "report."+format)
		if _, errOut, code := runCmd(t, "report", "-db", src, "--month", month, "--format", format, "-o", file); code != 0 {
			t.Fatalf("report %s: exit %d: %s", format, code, errOut)
		}
		if st, err := os.Stat(file); err != nil || st.Size() == 0 {
			t.Errorf("report %s: %v", format, err)
		}
	}
	if _, errOut, code := runCmd(t, "report", "-db", src, "--month", month, "--publish", "--format", "csv"); code != 0 || !strings.Contains(errOut, "published") {
		t.Fatalf("publish: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCmd(t, "report", "-db", src, "--month", month, "--publish"); code == 0 || !strings.Contains(errOut, "published already") {
		t.Errorf("second publish: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCmd(t, "report", "-db", src, "--month", month); code != 0 || !strings.Contains(errOut, "as published at") {
		t.Errorf("report of a published month: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCmd(t, "report", "-db", src, "--month", "2026-13"); code == 0 {
		t.Errorf("a bad month was accepted: %s", errOut)
	}
}

func TestBadConfigurationRefusedWithPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.yaml")
	if err := os.WriteFile(path, []byte("units:\n  - {id: a, name: A, phone: \"nope\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCmd(t, "tickets", "-config", path)
	if code == 0 || !strings.Contains(errOut, path+":2: units[0].phone:") {
		t.Errorf("exit %d, stderr %q; want the file, line and field named", code, errOut)
	}
}
