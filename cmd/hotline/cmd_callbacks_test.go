package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hotline/ivr/callback"
	"hotline/ticket"
)

func TestCallbacksCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := ticket.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	store := callback.NewLedgerStore(l, "test")
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	for _, kind := range []callback.Kind{callback.KindSurvey, callback.KindReturn} {
		ref, err := l.Register(ctx, ticket.NewTicket{Channel: ticket.ChannelHotline, Caller: "13812345678", Content: "x", Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Schedule(ctx, callback.Request{TicketID: ref.TicketID, Kind: kind, Due: now.Add(72 * time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Cancel(ctx, 2, now); err != nil {
		t.Fatal(err)
	}
	l.Close()

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
			args := append([]string{"callbacks", "--db", path, "--json"}, tt.args...)
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
	if code := run(ctx, []string{"callbacks", "--db", path}, &out, &errOut); code != 0 {
		t.Fatalf("table: exit %d: %s", code, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "138****5678") || strings.Contains(s, "13812345678") {
		t.Errorf("table should show masked numbers only:\n%s", s)
	}
	for _, bad := range [][]string{{"--state", "sleeping"}, {"--db", filepath.Join(t.TempDir(), "none.db")}} {
		var out, errOut bytes.Buffer
		if code := run(ctx, append([]string{"callbacks"}, bad...), &out, &errOut); code == 0 {
			t.Errorf("%v: exit 0, want an error", bad)
		}
	}
}
