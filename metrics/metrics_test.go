package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hotline/telephony"
)

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no lines", func(c *Config) { c.Lines = nil }},
		{"no units", func(c *Config) { c.Units = nil }},
		{"empty line", func(c *Config) { c.Lines = append(c.Lines, "") }},
		{"duplicate unit", func(c *Config) { c.Units = append(c.Units, c.Units[0]) }},
		{"reserved line none", func(c *Config) { c.Lines = append(c.Lines, NoLine) }},
		{"reserved unit other", func(c *Config) { c.Units = append(c.Units, Other) }},
		{"reserved unit none", func(c *Config) { c.Units = append(c.Units, NoUnit) }},
		{"phone number as unit", func(c *Config) { c.Units = append(c.Units, "13800138000") }},
		{"hotline number as line", func(c *Config) { c.Lines = append(c.Lines, "96596") }},
		{"ticket number as stage", func(c *Config) { c.Stages = []string{"96596-20261129-0001"} }},
		{"too long", func(c *Config) { c.Units = append(c.Units, strings.Repeat("部", 30)) }},
		{"not utf-8", func(c *Config) { c.Units = append(c.Units, "\xff") }},
		{"control character", func(c *Config) { c.Backends = append(c.Backends, "sip\n") }},
		{"name of an unknown unit", func(c *Config) { c.UnitNames = map[string]string{"nobody": "某部"} }},
		{"phone number as a name", func(c *Config) { c.LineNames = map[string]string{"1": "客运13800138000"} }},
		{"negative service level", func(c *Config) { c.ServiceLevel = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.change(&cfg)
			m, err := New(prometheus.NewRegistry(), cfg)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", m)
			}
		})
	}
	t.Run("bad label is ErrBadLabel", func(t *testing.T) {
		cfg := testConfig()
		cfg.Units = append(cfg.Units, "13800138000")
		_, err := New(prometheus.NewRegistry(), cfg)
		if !errors.Is(err, ErrBadLabel) {
			t.Errorf("New: %v; want ErrBadLabel", err)
		}
	})
}

func TestNewTwiceOnOneRegistryFails(t *testing.T) {
	_, reg := newTestMetrics(t)
	if _, err := New(reg, testConfig()); err == nil {
		t.Fatal("second New on the same registry: nil error; want a registration error")
	}
}

func TestSeriesStartAtZero(t *testing.T) {
	_, reg := newTestMetrics(t)
	cfg := testConfig()
	lines := len(cfg.Lines) + 2 // none, other
	units := len(cfg.Units) + 2 // none, other
	stages := len(DefaultStages) + 1
	tests := []struct {
		name   string
		series int
	}{
		{"hotline_calls_offered_total", lines},
		{"hotline_calls_answered_total", lines},
		{"hotline_calls_abandoned_total", lines * 2},
		{"hotline_queue_wait_seconds", lines},
		{"hotline_calls_ended_total", 2 * len(telephony.Reasons)},
		{"hotline_calls_active", 2},
		{"hotline_ticket_deadlines_total", stages * units * 2},
		{"hotline_satisfaction_responses_total", lines * units * 3},
		{"hotline_callback_attempts_total", len(telephony.Reasons)},
		{"hotline_backend_up", len(cfg.Backends)},
		{"hotline_flow_errors_total", len(DefaultSteps) + 1},
		{"hotline_agents_available", 1},
		{"hotline_ledger_write_duration_seconds", 1},
	}
	mfs := gather(t, reg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf := mfs[tt.name]
			if mf == nil {
				t.Fatalf("%s not exported", tt.name)
			}
			if got := len(mf.GetMetric()); got != tt.series {
				t.Errorf("got %d series, want %d", got, tt.series)
			}
			for _, m := range mf.GetMetric() {
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
				if v != 0 {
					t.Errorf("series %v = %v, want 0", m.GetLabel(), v)
				}
			}
		})
	}
	if v, _ := sample(t, reg, "hotline_service_level_target_seconds", nil); v != 15 {
		t.Errorf("hotline_service_level_target_seconds = %v, want 15", v)
	}
}

func TestObservations(t *testing.T) {
	type labels = map[string]string
	tests := []struct {
		name   string
		do     func(m *Metrics)
		metric string
		labels labels
		want   float64
	}{
		{"call started inbound", func(m *Metrics) { m.CallStarted(telephony.Inbound) },
			"hotline_calls_total", labels{"direction": "inbound"}, 1},
		{"calls active after start", func(m *Metrics) { m.CallStarted(telephony.Outbound); m.CallStarted(telephony.Outbound) },
			"hotline_calls_active", labels{"direction": "outbound"}, 2},
		{"calls active after end", func(m *Metrics) {
			m.CallStarted(telephony.Inbound)
			m.CallEnded(telephony.Inbound, telephony.ReasonHungUp)
		}, "hotline_calls_active", labels{"direction": "inbound"}, 0},
		{"end reason", func(m *Metrics) {
			m.CallStarted(telephony.Inbound)
			m.CallEnded(telephony.Inbound, telephony.ReasonHungUp)
		}, "hotline_calls_ended_total", labels{"direction": "inbound", "reason": "hungup"}, 1},
		{"unknown end reason counts as error", func(m *Metrics) {
			m.CallStarted(telephony.Inbound)
			m.CallEnded(telephony.Inbound, "13800138000")
		}, "hotline_calls_ended_total", labels{"direction": "inbound", "reason": "error"}, 1},
		{"ivr choice", func(m *Metrics) { m.IVRChoice("2") },
			"hotline_ivr_choices_total", labels{"line": "2"}, 1},
		{"unknown line counts as other", func(m *Metrics) { m.IVRChoice("7") },
			"hotline_ivr_choices_total", labels{"line": "other"}, 1},
		{"offered", func(m *Metrics) { m.CallOffered("1") },
			"hotline_calls_offered_total", labels{"line": "1"}, 1},
		{"answered", func(m *Metrics) { m.CallAnswered("1", 20*time.Second) },
			"hotline_calls_answered_total", labels{"line": "1"}, 1},
		{"answered after 20 s is late", func(m *Metrics) { m.CallAnswered("1", 20*time.Second) },
			"hotline_calls_answered_in_time_total", labels{"line": "1"}, 0},
		{"answered at 15 s is in time", func(m *Metrics) { m.CallAnswered("1", 15*time.Second) },
			"hotline_calls_answered_in_time_total", labels{"line": "1"}, 1},
		{"queue wait observed", func(m *Metrics) { m.CallAnswered("0", 3*time.Second) },
			"hotline_queue_wait_seconds", labels{"line": "0"}, 1},
		{"abandoned in menu without line", func(m *Metrics) { m.AbandonedInMenu("") },
			"hotline_calls_abandoned_total", labels{"line": "none", "where": "menu"}, 1},
		{"abandoned in queue", func(m *Metrics) { m.AbandonedInQueue("3") },
			"hotline_calls_abandoned_total", labels{"line": "3", "where": "queue"}, 1},
		{"voicemail", func(m *Metrics) { m.Voicemail("") },
			"hotline_voicemails_total", labels{"line": "none"}, 1},
		{"talk time", func(m *Metrics) { m.TalkTime("5", 3*time.Minute) },
			"hotline_talk_time_seconds", labels{"line": "5"}, 1},
		{"agents logged in", func(m *Metrics) { m.AgentsLoggedIn(7) },
			"hotline_agents_logged_in", nil, 7},
		{"agents available", func(m *Metrics) { m.AgentsAvailable(3) },
			"hotline_agents_available", nil, 3},
		{"ticket opened", func(m *Metrics) { m.TicketOpened(false); m.TicketOpened(true) },
			"hotline_tickets_opened_total", nil, 2},
		{"repeat ticket", func(m *Metrics) { m.TicketOpened(false); m.TicketOpened(true) },
			"hotline_tickets_repeat_total", nil, 1},
		{"reopened", func(m *Metrics) { m.TicketReopened("物流部") },
			"hotline_tickets_reopened_total", labels{"unit": "物流部"}, 1},
		{"deadline met", func(m *Metrics) { m.DeadlineMet("transfer", "客服中心") },
			"hotline_ticket_deadlines_total", labels{"stage": "transfer", "unit": "客服中心", "result": "met"}, 1},
		{"deadline missed", func(m *Metrics) { m.DeadlineMissed("feedback", "房产部") },
			"hotline_ticket_deadlines_total", labels{"stage": "feedback", "unit": "房产部", "result": "missed"}, 1},
		{"deadline of unknown unit and stage", func(m *Metrics) { m.DeadlineMissed("lunch", "某某公司") },
			"hotline_ticket_deadlines_total", labels{"stage": "other", "unit": "other", "result": "missed"}, 1},
		{"deadline of unknown stage", func(m *Metrics) { m.DeadlineMissed("lunch", "物流部") },
			"hotline_ticket_deadlines_total", labels{"stage": "other", "unit": "物流部", "result": "missed"}, 1},
		{"transfer deadline before a unit", func(m *Metrics) { m.DeadlineMet("transfer", "") },
			"hotline_ticket_deadlines_total", labels{"stage": "transfer", "unit": "none", "result": "met"}, 1},
		{"flow error of no step", func(m *Metrics) { m.FlowError("") },
			"hotline_flow_errors_total", labels{"step": "other"}, 1},
		{"satisfaction of unknown unit", func(m *Metrics) { m.Satisfaction("", "某某公司", Satisfied) },
			"hotline_satisfaction_responses_total", labels{"line": "none", "unit": "other", "score": "satisfied"}, 1},
		{"callback attempt", func(m *Metrics) { m.CallbackAttempt(telephony.ReasonNoAnswer) },
			"hotline_callback_attempts_total", labels{"outcome": "noanswer"}, 1},
		{"satisfaction", func(m *Metrics) { m.Satisfaction("1", "客运营销部", Dissatisfied) },
			"hotline_satisfaction_responses_total", labels{"line": "1", "unit": "客运营销部", "score": "dissatisfied"}, 1},
		{"satisfaction out of range not counted", func(m *Metrics) { m.Satisfaction("1", "客运营销部", 4) },
			"hotline_satisfaction_responses_total", labels{"line": "1", "unit": "客运营销部", "score": "dissatisfied"}, 0},
		{"backend up", func(m *Metrics) { m.BackendUp("sip", true) },
			"hotline_backend_up", labels{"backend": "sip"}, 1},
		{"backend down again", func(m *Metrics) { m.BackendUp("sip", true); m.BackendUp("sip", false) },
			"hotline_backend_up", labels{"backend": "sip"}, 0},
		{"event handled", func(m *Metrics) { m.EventHandled("sip") },
			"hotline_events_handled_total", labels{"backend": "sip"}, 1},
		{"flow error", func(m *Metrics) { m.FlowError("bridge") },
			"hotline_flow_errors_total", labels{"step": "bridge"}, 1},
		{"line name", func(m *Metrics) {}, "hotline_line_info", labels{"line": "1", "name": "客运"}, 1},
		{"ledger write", func(m *Metrics) { m.LedgerWrite(3 * time.Millisecond) },
			"hotline_ledger_write_duration_seconds", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newTestMetrics(t)
			tt.do(m)
			got, ok := sample(t, reg, tt.metric, tt.labels)
			if !ok {
				t.Fatalf("no series %s%v", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

func TestUnconfiguredBackendIsNotReported(t *testing.T) {
	m, reg := newTestMetrics(t)
	m.BackendUp("ari", false)
	m.EventHandled("ari")
	if _, ok := sample(t, reg, "hotline_backend_up", map[string]string{"backend": "ari"}); ok {
		t.Error("hotline_backend_up{backend=ari} exists; want no series for a backend not run")
	}
}

// TestNoPhoneNumberInLabels feeds every method phone numbers, ticket
// numbers and call ids where a label value goes, and checks that none
// reaches a label.
func TestNoPhoneNumberInLabels(t *testing.T) {
	m, reg := newTestMetrics(t)
	src := LedgerSourceFunc(func(ctx context.Context) (LedgerSnapshot, error) {
		return LedgerSnapshot{Stages: []StageCount{
			{Stage: "13800138000", Unit: "96596-20261129-0001", Open: 1, Overdue: 1},
		}}, nil
	})
	lc, err := NewLedgerCollector(src, testConfig(), 0, discardLog())
	if err != nil {
		t.Fatalf("NewLedgerCollector: %v", err)
	}
	reg.MustRegister(lc)

	hostile := []string{"13800138000", "+8613800138000", "sip:13800138000@127.0.0.1", "96596-20261129-0001",
		"a84f0c2e-5b1d-4b7e-9a53-2f1c0d4e6b7a"}
	for _, h := range hostile {
		m.IVRChoice(h)
		m.CallOffered(h)
		m.CallAnswered(h, time.Second)
		m.AbandonedInMenu(h)
		m.AbandonedInQueue(h)
		m.Voicemail(h)
		m.TalkTime(h, time.Minute)
		m.TicketReopened(h)
		m.DeadlineMet(h, h)
		m.DeadlineMissed(h, h)
		m.CallbackAttempt(telephony.Reason(h))
		m.Satisfaction(h, h, Satisfied)
		m.BackendUp(h, true)
		m.EventHandled(h)
		m.FlowError(h)
		m.CallStarted(telephony.Direction(h))
		m.CallEnded(telephony.Inbound, telephony.Reason(h))
	}

	allowed := map[string]bool{"line": true, "unit": true, "stage": true, "where": true, "direction": true,
		"reason": true, "result": true, "outcome": true, "score": true, "backend": true, "step": true,
		"name":    true, // display names of lines and units, from the configuration
		"version": true} // go_info's Go version
	for name, mf := range gather(t, reg) {
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if !allowed[lp.GetName()] {
					t.Errorf("%s has label %q outside the closed label names", name, lp.GetName())
				}
				if hasDigitRun(lp.GetValue(), 5) {
					t.Errorf("%s{%s=%q}: label value looks like a phone or ticket number", name, lp.GetName(), lp.GetValue())
				}
				for _, h := range hostile {
					if strings.Contains(lp.GetValue(), h) {
						t.Errorf("%s{%s=%q}: label carries caller input", name, lp.GetName(), lp.GetValue())
					}
				}
			}
		}
	}
	if got, _ := sample(t, reg, "hotline_calls_offered_total", map[string]string{"line": "other"}); got != float64(len(hostile)) {
		t.Errorf("hotline_calls_offered_total{line=other} = %v, want %d", got, len(hostile))
	}
}

// BenchmarkObservation measures the cost of one call-path observation.
func BenchmarkObservation(b *testing.B) {
	m, _ := newTestMetrics(b)
	benchmarks := []struct {
		name string
		do   func()
	}{
		{"CallOffered", func() { m.CallOffered("1") }},
		{"CallAnswered", func() { m.CallAnswered("1", 4*time.Second) }},
		{"AbandonedInMenu/unknown line", func() { m.AbandonedInMenu("13800138000") }},
		{"CallStarted+CallEnded", func() {
			m.CallStarted(telephony.Inbound)
			m.CallEnded(telephony.Inbound, telephony.ReasonHungUp)
		}},
		{"Satisfaction", func() { m.Satisfaction("2", "物流部", Satisfied) }},
		{"DeadlineMet", func() { m.DeadlineMet("feedback", "房产部") }},
		{"LedgerWrite", func() { m.LedgerWrite(2 * time.Millisecond) }},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bm.do()
			}
		})
	}
	b.Run("CallAnswered/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.CallAnswered("1", 4*time.Second)
			}
		})
	})
}
