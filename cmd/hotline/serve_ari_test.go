package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"hotline/config"
	"hotline/telephony"
	"hotline/telephony/ari/aritest"
)

// TestServeARI starts `hotline serve` with the configuration's ari:
// section pointing at a fake Asterisk on loopback, places a call through
// it, sees the ticket and the call record in the ledger file and the ARI
// backend on /metrics, and stops the service.
func TestServeARI(t *testing.T) {
	srv, err := aritest.Start(aritest.Options{Password: "serve-secret", PlaybackLength: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("ARI_USERNAME", "hotline")
	t.Setenv("ARI_PASSWORD", "serve-secret")

	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	rec := filepath.Join(dir, "spool")
	cfgFile := filepath.Join(dir, "hotline.yaml")
	yaml := fmt.Sprintf("ledger:\n  path: %s\nhttp:\n  listen: 127.0.0.1:0\nari:\n  url: %s\n  recording_dir: %s\n  shutdown_grace: 1s\n",
		db, srv.URL(), rec)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := &logWatch{t: t, want: `msg="call ended" call=`, seen: make(chan struct{})}
	hotline := startServe(ctx, t, ended, "-config", cfgFile, "-log", "info")
	if want := "hotline: ARI at " + srv.URL() + ", HTTP on "; !strings.HasPrefix(hotline.banner, want) {
		t.Errorf("banner %q, want it to start %q", hotline.banner, want)
	}
	httpAddr := hotline.httpAddr

	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	caller := callUntilTaken(wctx, t, srv, aritest.Inbound{Caller: "13900000002", Args: []string{"inbound"}})
	caller.Hangup()
	select {
	case <-ended.seen:
	case <-wctx.Done():
		t.Fatal("the service never logged the end of the call")
	}

	ledger, err := sqlx.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	var reason, callID, ticketCaller, status string
	err = ledger.QueryRow(`SELECT c.end_reason, c.call_id, t.caller, t.status FROM calls c JOIN tickets t ON t.id = c.ticket_id
		WHERE c.caller = '13900000002'`).Scan(&reason, &callID, &ticketCaller, &status)
	if err != nil {
		t.Fatal(err)
	}
	if reason != string(telephony.ReasonHungUp) || callID != caller.ID() || ticketCaller != "13900000002" || status != "registered" {
		t.Errorf("call %s ended %q, ticket of %q %q; want call %s hungup, ticket of 13900000002 registered",
			callID, reason, ticketCaller, status, caller.ID())
	}

	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hotline_backend_up{backend="ari"} 1`, `hotline_calls_total{direction="inbound"} 1`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("/metrics lacks %s:\n%.2000s", want, page)
		}
	}
	if !strings.Contains(string(page), `hotline_events_handled_total{backend="ari"} `) ||
		strings.Contains(string(page), `hotline_events_handled_total{backend="ari"} 0`+"\n") {
		t.Errorf("/metrics does not count the ARI events:\n%.2000s", page)
	}
	if strings.Contains(string(page), `backend="sip"`) {
		t.Error("/metrics reports a SIP backend that does not run")
	}

	hotline.stop(t, cancel)
}

// callUntilTaken places a call and returns it once the service plays it a
// prompt. Serve connects to ARI before it starts taking calls (to fail
// fast); a call in that moment goes back to the dialplan's fallback, as
// it would in Asterisk, and is placed again.
func callUntilTaken(ctx context.Context, t *testing.T, srv *aritest.Server, in aritest.Inbound) *aritest.Phone {
	t.Helper()
	if err := srv.AwaitConnected(ctx, true); err != nil {
		t.Fatal(err)
	}
	for {
		p, err := srv.Call(in)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := p.Next(ctx, func(e aritest.Event) bool {
			return e.Type() == "PlaybackStarted" || e.Type() == "StasisEnd"
		})
		if err != nil {
			t.Fatalf("call not taken: %v", err)
		}
		if ev.Type() == "PlaybackStarted" {
			return p
		}
		p.Hangup()
	}
}

// TestServeARIFailsFast: serve exits non-zero at once, saying why and what
// to check, when ARI is unreachable or refuses the credentials.
func TestServeARIFailsFast(t *testing.T) {
	srv, err := aritest.Start(aritest.Options{Password: "the-right-one"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/ari"
	ln.Close() // nothing listens there now

	tests := []struct {
		name, url, password string
		want                []string
	}{
		{"unreachable", closedURL, "the-right-one", []string{"ari unreachable", closedURL, "is Asterisk running"}},
		{"credentials refused", srv.URL(), "a-wrong-one", []string{"401", "ARI_USERNAME and ARI_PASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ARI_USERNAME", "hotline")
			t.Setenv("ARI_PASSWORD", tt.password)
			dir := t.TempDir()
			cfgFile := filepath.Join(dir, "hotline.yaml")
			yaml := fmt.Sprintf("ledger:\n  path: %s\nhttp:\n  listen: 127.0.0.1:0\n", filepath.Join(dir, "ledger.db"))
			if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			exited := make(chan int, 1)
			go func() {
				exited <- run(context.Background(), []string{"serve", "-config", cfgFile, "-ari-url", tt.url, "-log", "error"}, &stdout, &stderr)
			}()
			select {
			case code := <-exited:
				if code == 0 {
					t.Fatalf("serve exited 0; stderr:\n%s", stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not give up")
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr %q does not say %q", stderr.String(), want)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("serve printed %q: it must not look started", stdout.String())
			}
		})
	}
}

// TestRecordOrphan: a call an earlier run left in the application and the
// backend ended is in the ledger, with how it ended, whether or not the
// earlier run had opened its record.
func TestRecordOrphan(t *testing.T) {
	cfg := config.Default()
	cfg.Ledger.Path = filepath.Join(t.TempDir(), "ledger.db")
	logger := slog.New(slog.DiscardHandler)
	store, err := cfg.OpenLedger(t.Context(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	info := telephony.Info{ID: "1795983001.7", Direction: telephony.Inbound, Caller: "13900000003", Dialled: "96596", Started: at}
	end := telephony.End{Reason: telephony.ReasonShutdown, By: "local", Cause: 16, At: at.Add(time.Second)}
	recordOrphan(store, logger, info, end)
	recordOrphan(store, logger, info, end) // a second report changes nothing

	db, err := sqlx.Open("sqlite3", "file:"+cfg.Ledger.Path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []struct {
		Reason string `db:"end_reason"`
		By     string `db:"end_by"`
		Caller string `db:"caller"`
	}
	if err := db.Select(&rows, `SELECT c.end_reason, c.end_by, t.caller FROM calls c JOIN tickets t ON t.id = c.ticket_id
		WHERE c.call_id = ?`, info.ID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Reason != "shutdown" || rows[0].By != "local" || rows[0].Caller != "13900000003" {
		t.Errorf("ledger rows %+v, want one call ended shutdown by local, ticket of 13900000003", rows)
	}
}
