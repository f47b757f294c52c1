package ticket

import "context"

// TamperForTest runs raw SQL on the writer, to show what the schema refuses.
func TamperForTest(ctx context.Context, s *Store, q string) error {
	_, err := s.w.ExecContext(ctx, q)
	return err
}
