package main

import (
	"context"
	"fmt"
	"io"
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
	ended := &logWatch{t: t, want: `msg="call ended" call=`, seen: make(chan struct{})}
	srv := startServe(ctx, t, ended, "-config", cfgFile, "-sip", "127.0.0.1:0", "-prompts", "../../prompts/wav",
		"-recordings", filepath.Join(dir, "rec"), "-agent", "a1=sip:a1@127.0.0.1:9", "-log", "info")
	sipAddr, httpAddr := srv.sipAddr, srv.httpAddr
	phone := callerPhone(ctx, t, dir)
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

	srv.stop(t, cancel)
}
