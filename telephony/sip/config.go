// Package sip is the embedded telephony engine: it speaks SIP and RTP
// itself (sipgo for signalling, diago for dialogs and RTP sessions) and
// implements the telephony port, so the service answers, plays prompts,
// reads DTMF, records, dials and bridges without an Asterisk.
package sip

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"hotline/config/field"
)

// Config is the `sip:` section of the configuration file.
type Config struct {
	// UDP and TCP are the listen addresses for SIP ("host:port"); an empty
	// string disables that transport. Default 127.0.0.1:5060 for both. A
	// site binds its trunk address here. Port 0 picks a free port (tests).
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`

	// PublicHost is the address written in Contact and SDP when it differs
	// from the bind address (behind NAT, or bound to 0.0.0.0). Default: the
	// bind host.
	PublicHost string `yaml:"public_host"`

	// Numbers are the dialled numbers this engine accepts (INVITE user part);
	// others get 404. Default ["96596"]. "*" accepts any number (the
	// answering phone of `hotline dial`).
	Numbers []string `yaml:"numbers"`

	// AllowedNetworks lists the source networks (CIDR) allowed to send
	// INVITEs; others get 403. Default: loopback and the private ranges
	// (127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
	// fc00::/7). A site narrows it to its trunk.
	AllowedNetworks []string `yaml:"allowed_networks"`

	// MaxCalls bounds the calls in progress, inbound and outbound; an INVITE
	// beyond it gets 503 with Retry-After. Default 2000.
	MaxCalls int `yaml:"max_calls"`
	// RetryAfter is the Retry-After of a 503. Default 30s.
	RetryAfter time.Duration `yaml:"retry_after"`

	// RTPPortMin and RTPPortMax bound the UDP ports used for RTP (RTCP
	// takes the next port). Default 10000-20000.
	RTPPortMin int `yaml:"rtp_port_min"`
	RTPPortMax int `yaml:"rtp_port_max"`

	// PromptDir holds the prompts as <name>.wav, 8 kHz mono 16-bit PCM.
	// Every file is checked at start. Default "prompts".
	PromptDir string `yaml:"prompt_dir"`
	// RecordingDir receives recordings as <name>.wav. Default "recordings".
	RecordingDir string `yaml:"recording_dir"`

	// BridgeDTMF passes the digits one party of a bridge presses on to the
	// other as RFC 4733. Off by default: an agent's transfer code is for
	// the service, not the caller's ear. Either way the digits reach the
	// pressing call's Digits.
	BridgeDTMF bool `yaml:"bridge_dtmf"`

	// RingTimeout is how long an outbound call may ring when the request
	// gives none. Default 30s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// NoResponseTimeout gives up an outbound call that got no response at
	// all (a dead peer) instead of waiting for SIP timer B (32 s). Default 5s.
	NoResponseTimeout time.Duration `yaml:"no_response_timeout"`
	// MediaTimeout hangs up an answered call (reason timeout) from which no
	// RTP at all came for this long: a caller gone without a BYE. Default
	// 60s; negative disables it (a trunk that stops RTP while on hold).
	MediaTimeout time.Duration `yaml:"media_timeout"`
	// ShutdownGrace is how long Serve lets calls in progress finish after
	// its context ends before hanging them up. Default 10s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// Defaults returns the configuration of a first run on one machine.
func Defaults() Config {
	var c Config
	c.setDefaults()
	return c
}

var defaultNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// setDefaults fills the zero fields. UDP and TCP are only defaulted when
// both are empty, so that one of them can be switched off.
func (c *Config) setDefaults() {
	if c.UDP == "" && c.TCP == "" {
		c.UDP, c.TCP = "127.0.0.1:5060", "127.0.0.1:5060"
	}
	if len(c.Numbers) == 0 {
		c.Numbers = []string{"96596"}
	}
	if len(c.AllowedNetworks) == 0 {
		c.AllowedNetworks = append([]string(nil), defaultNetworks...)
	}
	if c.MaxCalls == 0 {
		c.MaxCalls = 2000
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = 30 * time.Second
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 10000, 20000
	}
	if c.PromptDir == "" {
		c.PromptDir = "prompts"
	}
	if c.RecordingDir == "" {
		c.RecordingDir = "recordings"
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.NoResponseTimeout == 0 {
		c.NoResponseTimeout = 5 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.MediaTimeout == 0 {
		c.MediaTimeout = 60 * time.Second
	}
}

// Validate fills defaults and refuses contradictions, naming the field
// (*field.Error values, for the configuration loader).
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	for _, a := range []struct{ field, addr string }{{"udp", c.UDP}, {"tcp", c.TCP}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, field.Errorf(a.field, "%q: %v", a.addr, err))
		}
	}
	for i, n := range c.AllowedNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			errs = append(errs, field.Errorf(field.Index("allowed_networks", i), "%q: %v", n, err))
		}
	}
	if c.MaxCalls < 0 {
		errs = append(errs, field.Errorf("max_calls", "%d is negative", c.MaxCalls))
	}
	if c.RTPPortMin <= 0 || c.RTPPortMax > 65535 || c.RTPPortMax-c.RTPPortMin < 4 {
		errs = append(errs, field.Errorf("rtp_port_min", "%d-%d (rtp_port_max): want a range of at least 4 ports within 1-65535", c.RTPPortMin, c.RTPPortMax))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"retry_after", c.RetryAfter}, {"ring_timeout", c.RingTimeout}, {"no_response_timeout", c.NoResponseTimeout}, {"shutdown_grace", c.ShutdownGrace}} {
		if d.v < 0 {
			errs = append(errs, field.Errorf(d.field, "%s is negative", d.v))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) networks() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.AllowedNetworks))
	for _, n := range c.AllowedNetworks {
		if p, err := netip.ParsePrefix(n); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}
