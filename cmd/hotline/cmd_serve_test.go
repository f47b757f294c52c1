package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"hotline/ivr"
	"hotline/telephony"
	"hotline/telephony/sip"
	"hotline/web"
)

// testLog sends the service's log to the test's.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestServe starts `hotline serve` on free loopback ports, places a call
// into it, sees the call end on /api/events and in the ledger file, and
// stops the service with its context (as SIGINT does).
func TestServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	cfgFile := filepath.Join(dir, "hotline.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("ledger:\n  path: %s\nhttp:\n  listen: 127.0.0.1:0\n", db)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	exited := make(chan int, 1)
	go func() {
		defer outW.Close()
		exited <- run(ctx, []string{"serve", "-config", cfgFile, "-sip", "127.0.0.1:0", "-prompts", "../../prompts/wav",
			"-recordings", filepath.Join(dir, "rec"), "-agent", "a1=sip:a1@127.0.0.1:9", "-log", "warn"}, outW, testLog{t})
	}()
	lines := bufio.NewReader(out)
	banner, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("no banner: %v", err)
	}
	var sipAddr, httpAddr string
	if _, err := fmt.Sscanf(banner, "hotline: SIP on %s HTTP on %s", &sipAddr, &httpAddr); err != nil {
		t.Fatalf("banner %q: %v", banner, err)
	}
	sipAddr = strings.TrimSuffix(sipAddr, ",")
	go func() { _, _ = io.Copy(io.Discard, lines) }()

	resp, err := http.Get("http://" + httpAddr + "/api/agents")
	if err != nil {
		t.Fatal(err)
	}
	var agents []ivr.AgentStatus
	if err := json.NewDecoder(resp.Body).Decode(&agents); err != nil || len(agents) != 1 || agents[0].ID != "a1" {
		t.Errorf("agents %+v, %v; want a1", agents, err)
	}
	resp.Body.Close()

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/api/events", nil)
	events, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	stream := bufio.NewReader(events.Body)
	if _, err := stream.ReadString('\n'); err != nil {
		t.Fatal(err)
	}

	phone, err := sip.New(sip.Config{UDP: "127.0.0.1:0", Numbers: []string{"*"}, PromptDir: "-", RecordingDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	phoneDone := make(chan struct{})
	defer func() { <-phoneDone }()
	go func() {
		defer close(phoneDone)
		_ = phone.Serve(ctx, telephony.HandlerFunc(func(context.Context, telephony.Call) {}))
	}()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	call, err := phone.Dial(dctx, telephony.DialRequest{To: "sip:96596@" + sipAddr, CallerID: "13900000001"})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(dctx, telephony.ReasonNormal); err != nil {
		t.Fatal(err)
	}
	for {
		typ, data, err := web.ReadEvent(stream)
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		if typ == ivr.EventCallEnded {
			var e ivr.Event
			if err := json.Unmarshal(data, &e); err != nil || e.Ticket == nil || e.Ticket.Caller != "13900000001" {
				t.Fatalf("call-ended %s, %v", data, err)
			}
			break
		}
	}
	ledger, err := sqlx.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	var reason, recording string
	if err := ledger.QueryRow(`SELECT end_reason, recording_path FROM calls WHERE caller = '13900000001'`).Scan(&reason, &recording); err != nil {
		t.Fatal(err)
	}
	if reason != string(telephony.ReasonHungUp) || recording == "" {
		t.Errorf("call record: reason %q recording %q; want hungup with a recording", reason, recording)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("serve exited %d, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}
