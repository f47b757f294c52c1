package ticket_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"hotline/ticket"
)

// TestGroupCommitOfWrites: writes that wait together share a transaction,
// each in its savepoint: one that fails is undone alone (with the ticket
// numbers it drew), and when the transaction itself is lost the others
// are written in transactions of their own, once each.
func TestGroupCommitOfWrites(t *testing.T) {
	errRefused := errors.New("refused")
	// unit writes a unit row; refuse makes the write fail after it.
	unit := func(id string, refuse bool) func(ticket.TestTx) error {
		return func(tx ticket.TestTx) error {
			if err := tx.Exec(`INSERT INTO units (id, name) VALUES (?, ?)`, id, id); err != nil {
				return err
			}
			if refuse {
				return errRefused
			}
			return nil
		}
	}
	// number draws a ticket number into got.
	number := func(got *string, refuse bool) func(ticket.TestTx) error {
		return func(tx ticket.TestTx) error {
			n, err := tx.Number()
			if err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO tickets (number, channel, status, caller, created_at, updated_at)
				VALUES (?, 'hotline', 'registered', 'unknown', '2026-11-30 02:00:00.000', '2026-11-30 02:00:00.000')`, n); err != nil {
				return err
			}
			if refuse {
				return errRefused
			}
			*got = n
			return nil
		}
	}
	// loseTransaction ends the shared transaction under the batch, as
	// SQLite does on an interrupted statement.
	loseTransaction := func(tx ticket.TestTx) error {
		if err := tx.Exec(`ROLLBACK`); err != nil {
			return err
		}
		return errRefused
	}
	var n1, n2, n3 string
	for _, tc := range []struct {
		name    string
		writes  []func(ticket.TestTx) error
		want    []error
		units   []string
		numbers []*string
		wantNos []string
	}{
		{name: "all committed", writes: []func(ticket.TestTx) error{unit("u1", false), unit("u2", false), unit("u3", false)},
			want: []error{nil, nil, nil}, units: []string{"u1", "u2", "u3"}},
		{name: "a failing write is undone alone", writes: []func(ticket.TestTx) error{unit("u1", false), unit("u2", true), unit("u3", false)},
			want: []error{nil, errRefused, nil}, units: []string{"u1", "u3"}},
		{name: "a write refused by the schema is undone alone", writes: []func(ticket.TestTx) error{unit("u1", false), unit("u1", false), unit("u3", false)},
			want: []error{nil, errors.New("UNIQUE"), nil}, units: []string{"u1", "u3"}},
		{name: "the numbers of an undone write are drawn again",
			writes: []func(ticket.TestTx) error{number(&n1, false), number(&n2, true), number(&n3, false)},
			want:   []error{nil, errRefused, nil}, numbers: []*string{&n1, &n3},
			wantNos: []string{"96596-20261130-0001", "96596-20261130-0002"}},
		{name: "a lost transaction: the others are written on their own, once",
			writes: []func(ticket.TestTx) error{unit("u1", false), loseTransaction, unit("u3", false)},
			want:   []error{nil, errRefused, nil}, units: []string{"u1", "u3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := newStore(t)
			n1, n2, n3 = "", "", ""
			errs := ticket.WriteBatchForTest(ctx, s, tc.writes...)
			for i, err := range errs {
				switch want := tc.want[i]; {
				case want == nil && err != nil:
					t.Errorf("write %d: %v", i, err)
				case want == errRefused && !errors.Is(err, errRefused):
					t.Errorf("write %d: %v, want %v", i, err, want)
				case want != nil && want != errRefused && (err == nil || !strings.Contains(err.Error(), want.Error())):
					t.Errorf("write %d: %v, want an error with %q", i, err, want)
				}
			}
			units, err := ticket.RowsForTest(ctx, s, `SELECT id FROM units WHERE id LIKE 'u%' ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(units, tc.units) {
				t.Errorf("units %q, want %q", units, tc.units)
			}
			var got []string
			for _, n := range tc.numbers {
				got = append(got, *n)
			}
			numbers, err := ticket.RowsForTest(ctx, s, `SELECT number FROM tickets ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.wantNos) || !slices.Equal(numbers, tc.wantNos) {
				t.Errorf("numbers handed out %q, in the ledger %q, want %q", got, numbers, tc.wantNos)
			}
		})
	}
}
