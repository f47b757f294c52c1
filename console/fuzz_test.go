package console_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"hotline/console"
)

// FuzzQRForm posts arbitrary bodies to the public form: never a server
// error, and a ticket only with valid text within bounds.
func FuzzQRForm(f *testing.F) {
	f.Add("kind=complaint&contact=13812345678&content=%E7%A9%BA%E8%B0%83")
	f.Add("kind=question&contact=a%40b.cn&content=x&website=")
	f.Add("content=%ff%fe&contact=1")
	f.Add("%zz")
	f.Add(strings.Repeat("content=x&", 1000))
	h := newHarness(f, console.Config{QRSubmissions: 1 << 30})
	f.Fuzz(func(t *testing.T, body string) {
		before, err := h.ledger.Search(t.Context(), console.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(h.srv.URL+"/qr", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("got status %d for %q", resp.StatusCode, body)
		}
		all, err := h.ledger.Search(t.Context(), console.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		got := all[:len(all)-len(before)] // newest first
		if len(got) > 1 {
			t.Fatalf("got %d tickets from one post", len(got))
		}
		for _, s := range got {
			if !utf8.ValidString(s.Content) || utf8.RuneCountInString(s.Content) > 2000 || strings.TrimSpace(s.Content) == "" {
				t.Fatalf("ticket with content %q from %q", s.Content, body)
			}
		}
		if len(got) > 0 && resp.StatusCode != http.StatusOK {
			t.Fatalf("a ticket was created but the status is %d", resp.StatusCode)
		}
	})
}
