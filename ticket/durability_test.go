package ticket_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"hotline/ticket"
)

// childEnv names the ledger a child process writes to until it is killed.
const childEnv = "HOTLINE_LEDGER_DURABILITY_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(durabilityChild(path))
	}
	os.Exit(m.Run())
}

// durabilityChild opens tickets for calls as fast as it can and prints the
// call id of each opening that returned success.
func durabilityChild(path string) int {
	ctx := context.Background()
	s, err := ticket.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("kill-%d", i)
		if _, err := s.OpenForCall(ctx, ticket.CallInfo{CallID: id, Caller: "13800000000"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(out, id)
		out.Flush()
	}
}

// TestSIGKILLLosesNoOpenedTicket kills a process that opens tickets in the
// middle of its stream and checks, after reopening, that every ticket whose
// opening had returned success is in the ledger.
func TestSIGKILLLosesNoOpenedTicket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const before = 300
	sc := bufio.NewScanner(stdout)
	var acked []string
	for len(acked) < before && sc.Scan() {
		acked = append(acked, sc.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines already written before the kill were successes too.
	for sc.Scan() {
		acked = append(acked, sc.Text())
	}
	cmd.Wait()
	if len(acked) < before {
		t.Fatalf("child acknowledged only %d openings", len(acked))
	}
	s, err := ticket.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range acked {
		if _, err := s.TicketForCall(context.Background(), id); err != nil {
			t.Errorf("call %s was acknowledged but its ticket is lost: %v", id, err)
		}
	}
	t.Logf("%d acknowledged openings survived SIGKILL", len(acked))
}
