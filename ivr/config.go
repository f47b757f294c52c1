package ivr

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"hotline/config/field"
)

// Config is the `ivr:` section of the configuration file. Zero values take
// the defaults given in the comments (Init fills them).
type Config struct {
	// Record records every answered call from answer to hang-up; default on.
	Record *bool `yaml:"record"`
	// FirstDigit is how long the menu waits for a key after the prompt;
	// default 5s.
	FirstDigit time.Duration `yaml:"first_digit_timeout"`
	// InterDigit is the wait between keys of a multi-key entry; default 3s.
	InterDigit time.Duration `yaml:"inter_digit_timeout"`
	// MenuAttempts is how many tries a caller gets before being put through
	// to an agent; default 3.
	MenuAttempts int `yaml:"menu_attempts"`
	// AgentRingTimeout is how long an agent's phone rings before the next
	// agent is tried; default 15s.
	AgentRingTimeout time.Duration `yaml:"agent_ring_timeout"`
	// QueueOfferMessage is how long a caller waits in the queue before being
	// offered to leave a message; default 60s, negative never offers.
	QueueOfferMessage time.Duration `yaml:"queue_offer_message_after"`
	// MessageMax bounds a message the caller leaves; default 120s.
	MessageMax time.Duration `yaml:"message_max"`
	// UnitRingTimeout is how long a unit's phone rings on a transfer;
	// default 30s.
	UnitRingTimeout time.Duration `yaml:"unit_ring_timeout"`
	// TransferCode is what an agent keys, followed by the unit's code and
	// '#', to transfer the caller; default "*9".
	TransferCode string `yaml:"transfer_code"`
	// CallerID is the number presented on calls the service places (to
	// agents and units); default "96596".
	CallerID string `yaml:"caller_id"`
	// Agents is the directory of agents who may log in.
	Agents []Agent `yaml:"agents"`
}

// Agent is an agent of the customer service centre.
type Agent struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// Dial is how to reach the agent's phone: a SIP URI (embedded engine)
	// or an endpoint such as PJSIP/agent1 (Asterisk).
	Dial string `yaml:"dial" json:"-"`
}

// Line is a business line of the menu (第六条).
type Line struct {
	Key        string // menu key, "1".."5"; "0" may name the agent line
	ID         string // stable code stored on tickets, e.g. passenger; default Name
	Name       string // e.g. 客运
	Department string // owning department, e.g. 客运营销部
}

// code is what the ticket records as the line.
func (l Line) code() string {
	if l.ID != "" {
		return l.ID
	}
	return l.Name
}

// Unit is a responsible unit callers can be transferred to.
type Unit struct {
	ID   string
	Name string
	Dial string // SIP URI or endpoint
	// Code is what the agent keys after the transfer code; default the ID.
	Code string
}

// AgentKey is the menu key that asks for an agent (人工服务).
const AgentKey = "0"

// Init fills defaults and rejects contradictions.
func (c *Config) Init() error {
	if c.Record == nil {
		on := true
		c.Record = &on
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.FirstDigit, 5*time.Second)
	def(&c.InterDigit, 3*time.Second)
	def(&c.AgentRingTimeout, 15*time.Second)
	def(&c.QueueOfferMessage, 60*time.Second)
	def(&c.MessageMax, 120*time.Second)
	def(&c.UnitRingTimeout, 30*time.Second)
	if c.MenuAttempts == 0 {
		c.MenuAttempts = 3
	}
	if c.TransferCode == "" {
		c.TransferCode = "*9"
	}
	if c.CallerID == "" {
		c.CallerID = "96596"
	}
	var errs []error
	for name, d := range map[string]time.Duration{"first_digit_timeout": c.FirstDigit, "inter_digit_timeout": c.InterDigit,
		"agent_ring_timeout": c.AgentRingTimeout, "message_max": c.MessageMax, "unit_ring_timeout": c.UnitRingTimeout} {
		if d < 0 {
			errs = append(errs, field.Errorf(name, "%v is negative", d))
		}
	}
	if c.MenuAttempts < 1 {
		errs = append(errs, field.Errorf("menu_attempts", "%d, want at least 1", c.MenuAttempts))
	}
	if strings.Trim(c.TransferCode, "0123456789*#") != "" {
		errs = append(errs, field.Errorf("transfer_code", "%q: use keypad keys only", c.TransferCode))
	}
	seen := make(map[string]bool)
	for i, a := range c.Agents {
		switch {
		case a.ID == "":
			errs = append(errs, field.Errorf(field.Key(field.Index("agents", i), "id"), "an agent needs an id"))
		case a.Dial == "":
			errs = append(errs, field.Errorf(field.Key(field.Index("agents", i), "dial"), "agent %s: no dial", a.ID))
		case seen[a.ID]:
			errs = append(errs, field.Errorf(field.Key(field.Index("agents", i), "id"), "duplicate id %s", a.ID))
		}
		seen[a.ID] = true
	}
	return errors.Join(errs...)
}

// RecordCalls reports whether calls are recorded.
func (c Config) RecordCalls() bool { return c.Record == nil || *c.Record }

func checkLines(lines []Line) error {
	seen := make(map[string]bool)
	for _, l := range lines {
		if len(l.Key) != 1 || l.Key[0] < '0' || l.Key[0] > '9' {
			return fmt.Errorf("line %s: key %q: want one digit", l.Name, l.Key)
		}
		if seen[l.Key] {
			return fmt.Errorf("line %s: key %s used twice", l.Name, l.Key)
		}
		seen[l.Key] = true
	}
	return nil
}
