package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"hotline/telephony"
	"hotline/telephony/sip"
)

// logWatch passes the service's log to the test's and signals the first
// line holding want.
type logWatch struct {
	t    *testing.T
	want string
	once sync.Once
	seen chan struct{}
}

func (w *logWatch) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	w.t.Log(line)
	if strings.Contains(line, w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

// TestServe starts `hotline serve` on free loopback ports, places a call
// into it, sees the call end in the service's log and in the ledger file,
// reads /metrics, and stops the service with its context (as SIGINT does).
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
	ended := &logWatch{t: t, want: `msg="call ended" call=`, seen: make(chan struct{})}
	go func() {
		defer outW.Close()
		exited <- run(ctx, []string{"serve", "-config", cfgFile, "-sip", "127.0.0.1:0", "-prompts", "../../prompts/wav",
			"-recordings", filepath.Join(dir, "rec"), "-agent", "a1=sip:a1@127.0.0.1:9", "-log", "info"}, outW, ended)
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
	select {
	case <-ended.seen:
	case <-time.After(20 * time.Second):
		t.Fatal("the service never logged the end of the call")
	}
	ledger, err := sqlx.Open("sqlite3", "file:"+db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	// The caller hangs up at once, maybe before the answer completed: the
	// call is on record all the same.
	var reason string
	if err := ledger.QueryRow(`SELECT end_reason FROM calls WHERE caller = '13900000001'`).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if reason != string(telephony.ReasonHungUp) {
		t.Errorf("call record: reason %q, want hungup", reason)
	}

	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `hotline_calls_total{direction="inbound"} 1`) {
		t.Errorf("/metrics does not count the call:\n%.2000s", page)
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
