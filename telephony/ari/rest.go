package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	base     string
	user     string
	password string
	timeout  time.Duration
	http     *http.Client
}

func newRESTClient(cfg *Config) *restClient {
	// A bounded pool of kept-alive connections: past it requests queue
	// for a connection instead of dialling (and closing) new ones, which
	// costs far more than the wait under load.
	tr := &http.Transport{
		Proxy:               nil,
		MaxConnsPerHost:     64,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // answers are a few hundred bytes of JSON
	}
	return &restClient{base: cfg.URL, user: cfg.Username, password: cfg.Password,
		timeout: cfg.RequestTimeout, http: &http.Client{Transport: tr}}
}

// escape escapes one path segment (recording names may hold "/").
func escape(s string) string { return url.PathEscape(s) }

// do sends one request; q goes in the query string, body (if not nil) as
// JSON; a JSON answer is decoded into out (if not nil).
func (c *restClient) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("ari %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("ari %s %s: %w", method, path, err)
	}
	req.SetBasicAuth(c.user, c.password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("ari %s %s: %w: %w", method, path, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("ari %s %s: read answer: %w: %w", method, path, ErrUnreachable, err)
	}
	if resp.StatusCode >= 300 {
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(data, &m)
		text := m.Message
		if text == "" {
			text = m.Error
		}
		return &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Message: text}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ari %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
