package ari

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config configures the ARI backend (config section `ari:`). The user and
// password come from the environment (ARI_USERNAME, ARI_PASSWORD) unless
// set here; Init fills them in.
type Config struct {
	// URL is the ARI base URL, e.g. http://127.0.0.1:8088/ari.
	URL string `yaml:"url"`
	// Application is the Stasis application name; default "hotline".
	Application string `yaml:"application"`
	// Username and Password for ARI (ari.conf); default from ARI_USERNAME
	// and ARI_PASSWORD. Never put them in a file under version control.
	Username string `yaml:"-"`
	Password string `yaml:"-"`

	// PromptPrefix turns a prompt name into a media URI: with the default
	// "sound:hotline/", Play(ctx, "welcome") plays sound:hotline/welcome
	// (sounds/<lang>/hotline/welcome.* on the Asterisk host). A prompt that
	// already has a scheme ("sound:", "recording:", "tone:", "digits:",
	// "number:") is played as is.
	PromptPrefix string `yaml:"prompt_prefix"`
	// Language of the prompts, e.g. "zh"; default "zh".
	Language string `yaml:"language"`
	// RecordingDir is where Asterisk stores recordings (for the path
	// reported to the ledger); default /var/spool/asterisk/recording.
	RecordingDir string `yaml:"recording_dir"`
	// RecordingFormat is the file format of recordings; default "wav".
	RecordingFormat string `yaml:"recording_format"`

	// CallerID and CallerName are presented on originated calls unless the
	// DialRequest says otherwise; default "96596" and "".
	CallerID   string `yaml:"caller_id"`
	CallerName string `yaml:"caller_name"`
	// RingTimeout bounds an originate when the request gives none;
	// default 30s.
	RingTimeout time.Duration `yaml:"ring_timeout"`

	// RequestTimeout is the deadline of each REST request; default 5s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ConnectTimeout bounds the start-up check and each WebSocket dial;
	// default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReconnectMin and ReconnectMax bound the back-off between attempts
	// to reconnect the events WebSocket; defaults 500ms and 30s.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`

	// ShutdownGrace is how long calls in progress may go on after shutdown
	// starts before they are ended with ShutdownPrompt; default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// ShutdownPrompt is played to calls ended by a shutdown. OrphanPrompt
	// is played to calls found in the application that this controller
	// does not know (after a restart) before they are hung up. Both
	// default to "system-busy" (prompts/manifest.txt).
	ShutdownPrompt string `yaml:"shutdown_prompt"`
	OrphanPrompt   string `yaml:"orphan_prompt"`
	// FallbackVariable is set on a new call that arrives while the service
	// is not taking calls, before sending it back to the dialplan, which
	// routes it to its fallback; default HOTLINE_FALLBACK.
	FallbackVariable string `yaml:"fallback_variable"`
}

// ErrConfig marks an invalid configuration.
var ErrConfig = errors.New("invalid ari configuration")

// Init fills defaults (and the credentials from the environment) and
// refuses contradictions.
func (c *Config) Init() error {
	if c.URL == "" {
		return fmt.Errorf("%w: url is required", ErrConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: url %q must be http(s)://host:port/ari", ErrConfig, c.URL)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defd := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Application, "hotline")
	def(&c.Username, os.Getenv("ARI_USERNAME"))
	def(&c.Password, os.Getenv("ARI_PASSWORD"))
	def(&c.PromptPrefix, "sound:hotline/")
	def(&c.Language, "zh")
	def(&c.RecordingDir, "/var/spool/asterisk/recording")
	def(&c.RecordingFormat, "wav")
	def(&c.CallerID, "96596")
	def(&c.ShutdownPrompt, "system-busy")
	def(&c.OrphanPrompt, "system-busy")
	def(&c.FallbackVariable, "HOTLINE_FALLBACK")
	defd(&c.RingTimeout, 30*time.Second)
	defd(&c.RequestTimeout, 5*time.Second)
	defd(&c.ConnectTimeout, 5*time.Second)
	defd(&c.ReconnectMin, 500*time.Millisecond)
	defd(&c.ReconnectMax, 30*time.Second)
	defd(&c.ShutdownGrace, 30*time.Second)
	if c.Username == "" || c.Password == "" {
		return fmt.Errorf("%w: ARI_USERNAME and ARI_PASSWORD must be set", ErrConfig)
	}
	if c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("%w: reconnect_max %s is below reconnect_min %s", ErrConfig, c.ReconnectMax, c.ReconnectMin)
	}
	if strings.ContainsAny(c.Application, "/?&# ") {
		return fmt.Errorf("%w: application %q", ErrConfig, c.Application)
	}
	return nil
}

// eventsURL is the WebSocket URL of the application's events.
func (c *Config) eventsURL() string {
	u, _ := url.Parse(c.URL + "/events")
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	q := url.Values{"app": {c.Application}, "subscribeAll": {"false"}}
	u.RawQuery = q.Encode()
	return u.String()
}
