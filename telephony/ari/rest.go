package ari

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Sentinels for what callers of the backend tell apart.
var (
	// ErrUnauthorized: ARI refused the credentials (401).
	ErrUnauthorized = errors.New("ari refused the credentials (401)")
	// ErrUnreachable: ARI did not answer (refused, timed out).
	ErrUnreachable = errors.New("ari unreachable")
	// ErrNotFound: the resource (channel, playback, ...) is gone (404).
	ErrNotFound = errors.New("ari resource not found")
	// ErrNotInStasis: the channel left the application (409).
	ErrNotInStasis = errors.New("channel not in stasis")
)

// HTTPError is an ARI answer with an error status.
type HTTPError struct {
	Method, Path string
	Status       int
	Message      string // ARI's "message" (or "error") text
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("ari %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Is maps statuses to the sentinels.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrNotInStasis:
		return e.Status == http.StatusConflict && strings.Contains(e.Message, "not in Stasis")
	}
	return false
}

// restClient is ARI's REST transport: every request carries a deadline
// (the caller's context, bounded by RequestTimeout).
type restClient struct {
	prefix  string // the path of the base URL, e.g. /ari
	auth    string // the Authorization header
	timeout time.Duration
	pool    *httpPool
}

func newRESTClient(cfg *Config) *restClient {
	u, _ := url.Parse(cfg.URL) // checked by Init
	return &restClient{
		prefix:  strings.TrimRight(u.Path, "/"),
		auth:    "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)),
		timeout: cfg.RequestTimeout,
		pool:    newHTTPPool(u),
	}
}

// escape escapes one path segment (recording names may hold "/").
func escape(s string) string { return url.PathEscape(s) }

// query is a query string's parameters as name, value pairs, in order.
type query []string

// appendQuery appends q, escaped as url.QueryEscape does.
func appendQuery(b []byte, q query) []byte {
	const hex = "0123456789ABCDEF"
	for i, s := range q {
		switch {
		case i == 0:
		case i%2 == 1:
			b = append(b, '=')
		default:
			b = append(b, '&')
		}
		for j := 0; j < len(s); j++ {
			switch c := s[j]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
				b = append(b, c)
			case c == ' ':
				b = append(b, '+')
			default:
				b = append(b, '%', hex[c>>4], hex[c&15])
			}
		}
	}
	return b
}

// do sends one request; q goes in the query string, body (if not nil) as
// JSON; a JSON answer is decoded into out (if not nil). The request ends
// at ctx's deadline or RequestTimeout, whichever comes first.
func (c *restClient) do(ctx context.Context, method, path string, q query, body, out any) error {
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("ari %s %s: encode body: %w", method, path, err)
		}
		payload = b
	}
	req := request{method: method, prefix: c.prefix, path: path, query: q, auth: c.auth, payload: payload}
	status, data, err := c.pool.roundTrip(ctx, &req, deadline, out != nil)
	if err != nil {
		return fmt.Errorf("ari %s %s: %w: %w", method, path, ErrUnreachable, err)
	}
	if status >= 300 {
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(data, &m)
		text := m.Message
		if text == "" {
			text = m.Error
		}
		return &HTTPError{Method: method, Path: path, Status: status, Message: text}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ari %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
