package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"hotline/ivr/callback"
)

func TestCallbacksCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	db, err := sqlx.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := callback.NewSQLStore(db)
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	for i, kind := range []callback.Kind{callback.KindSurvey, callback.KindReturn} {
		if _, err := store.Schedule(ctx, callback.Request{TicketID: int64(i + 1), TicketNo: "96596-20261130-000" + string(rune('1'+i)),
			Kind: kind, Number: "13812345678", Due: now.Add(72 * time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Cancel(ctx, 2, now); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		wantIDs []int64
	}{
		{name: "all", args: nil, wantIDs: []int64{1, 2}},
		{name: "scheduled", args: []string{"--state", "scheduled"}, wantIDs: []int64{1}},
		{name: "by ticket", args: []string{"--ticket", "2"}, wantIDs: []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"callbacks", "--ledger", path, "--json"}, tt.args...)
			if code := run(ctx, args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			var got []callback.Callback
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			var ids []int64
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			if len(ids) != len(tt.wantIDs) || (len(ids) > 0 && ids[0] != tt.wantIDs[0]) {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
		})
	}

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"callbacks", "--ledger", path}, &out, &errOut); code != 0 {
		t.Fatalf("table: exit %d: %s", code, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "138****5678") || strings.Contains(s, "13812345678") {
		t.Errorf("table should show masked numbers only:\n%s", s)
	}
	for _, bad := range [][]string{{"--state", "sleeping"}, {"--ledger", filepath.Join(t.TempDir(), "none.db")}} {
		var out, errOut bytes.Buffer
		if code := run(ctx, append([]string{"callbacks"}, bad...), &out, &errOut); code == 0 {
			t.Errorf("%v: exit 0, want an error", bad)
		}
	}
}
