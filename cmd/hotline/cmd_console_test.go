package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"hotline/console/auth"
	"hotline/console/ticketledger"
	"hotline/ticket"
)

func TestUsersCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "hotline.db")
	seed, err := ticket.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.SyncUnits(ctx, []ticket.Unit{{ID: "keyun", Name: "客运公司"}}); err != nil {
		t.Fatal(err)
	}
	seed.Close()
	steps := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
	}{
		{"add admin", []string{"add", "--db", db, "--name", "admin", "--role", "admin"}, "first password!\n", ""},
		{"add unit user", []string{"add", "--db", db, "--name", "u1", "--role", "unit", "--unit", "keyun"}, "unit password1\n", ""},
		{"unit user needs a unit", []string{"add", "--db", db, "--name", "u2", "--role", "unit"}, "unit password1\n", "needs a unit"},
		{"duplicate", []string{"add", "--db", db, "--name", "admin", "--role", "agent"}, "first password!\n", "user exists"},
		{"short password", []string{"add", "--db", db, "--name", "a1", "--role", "agent"}, "short\n", "too short"},
		{"unknown role", []string{"add", "--db", db, "--name", "a1", "--role", "boss"}, "first password!\n", "unknown role"},
		{"passwd", []string{"passwd", "--db", db, "--name", "admin"}, "second password\n", ""},
		{"disable", []string{"disable", "--db", db, "--name", "u1"}, "", ""},
		{"unit not in the directory", []string{"add", "--db", db, "--name", "u3", "--role", "unit", "--unit", "nowhere"}, "unit password1\n", "unknown unit"},
		{"disable unknown", []string{"disable", "--db", db, "--name", "ghost"}, "", "no such user"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runUsers(ctx, st.args, bcrypt.MinCost, strings.NewReader(st.stdin), &out, &errOut)
			if st.wantErr == "" && err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)) {
				t.Fatalf("got %v, want an error with %q", err, st.wantErr)
			}
		})
	}

	ledger, err := ticket.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	store := ticketledger.NewUsers(ledger)
	if u, err := auth.Authenticate(ctx, store, "admin", "second password"); err != nil || u.Role != auth.RoleAdmin {
		t.Fatalf("admin with the new password: got %+v, %v", u, err)
	}
	if _, err := auth.Authenticate(ctx, store, "u1", "unit password1"); err == nil {
		t.Fatal("disabled user authenticated")
	}
}

func TestQRCodeCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "qr.png")
	var stdout, stderr bytes.Buffer
	if err := runQRCode(context.Background(), []string{"--base-url", "https://96596.example.cn/console/", "--out", out, "--size", "256"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "https://96596.example.cn/console/qr -> "; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want it to start with %q", got, want)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode the PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Fatalf("got %dx%d, want 256x256", b.Dx(), b.Dy())
	}

	for _, bad := range []string{"", "96596.example.cn", "ftp://x.cn", "https://x.cn/?a=1", "https:///qr"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if err := runQRCode(context.Background(), []string{"--base-url", bad, "--out", out}, &stdout, &stderr); err == nil {
				t.Fatalf("got no error for %q", bad)
			}
		})
	}
}
