package ticket_test

import (
	"strings"
	"testing"

	"hotline/ticket"
)

// FuzzNormalizeCaller: whatever a caller ID holds, the stored contact is
// UnknownCaller or digits with an optional leading +.
func FuzzNormalizeCaller(f *testing.F) {
	for _, s := range []string{"", "anonymous", "13812345678", "+86 138-1234-5678", "sip:1001@10.0.0.1", "<script>", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := ticket.NormalizeCaller(in)
		if got == ticket.UnknownCaller {
			return
		}
		digits := strings.TrimPrefix(got, "+")
		if len(digits) < 3 || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
			t.Errorf("NormalizeCaller(%q) = %q", in, got)
		}
	})
}
