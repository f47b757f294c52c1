// Package metrics holds the hotline's Prometheus metrics: the call-path
// counters and histograms the flows feed (Metrics), the ticket gauges read
// from the ledger at scrape time (LedgerCollector), and the /metrics
// handler. The supervisors' Grafana dashboard (grafana/) and the alert
// rules (prometheus/) live beside the code and are tested against it.
//
// Every label comes from a closed set given at construction (lines, units,
// stages, steps, backends, call directions and end reasons), all series are
// created up front so they start at zero, and a value outside a set is
// counted under "other": a phone number, ticket number or call id can never
// become a label.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"hotline/telephony"
)

const namespace = "hotline"

// Score is a callback survey answer, as keyed by the caller (回访).
type Score int

// The survey answers.
const (
	Satisfied          Score = 1 // 满意
	BasicallySatisfied Score = 2 // 基本满意
	Dissatisfied       Score = 3 // 不满意
)

// scoreLabels are the label values of the scores, indexed by Score-1.
var scoreLabels = [3]string{"satisfied", "basically_satisfied", "dissatisfied"}

// Metrics is what the call flows, the dialer, the engines and the ledger
// report. Its methods are safe for concurrent use and cheap (a map lookup
// and an atomic add; see BenchmarkObservation); a nil *Metrics is not
// allowed, pass a Metrics on a throwaway registry in tests that don't care.
type Metrics struct {
	serviceLevel time.Duration

	lines      map[string]*lineSeries
	directions map[telephony.Direction]*directionSeries
	tickets    map[unitStage]*deadlineSeries
	ratings    map[lineUnit]*[3]prometheus.Counter
	reopened   map[string]prometheus.Counter
	callbacks  map[telephony.Reason]prometheus.Counter
	backends   map[string]*backendSeries
	flowErrors map[string]prometheus.Counter

	agentsLoggedIn  prometheus.Gauge
	agentsAvailable prometheus.Gauge
	ticketsOpened   prometheus.Counter
	ticketsRepeat   prometheus.Counter
	ledgerWrite     prometheus.Observer
}

type lineSeries struct {
	choices, offered, answered, answeredInTime prometheus.Counter
	abandonedInMenu, abandonedInQueue          prometheus.Counter
	voicemails                                 prometheus.Counter
	queueWait, talkTime                        prometheus.Observer
}

type directionSeries struct {
	started prometheus.Counter
	active  prometheus.Gauge
	ended   map[telephony.Reason]prometheus.Counter
}

type deadlineSeries struct{ met, missed prometheus.Counter }

type backendSeries struct {
	up     prometheus.Gauge
	events prometheus.Counter
}

type unitStage struct{ unit, stage string }
type lineUnit struct{ line, unit string }

// Histogram buckets, in seconds. The queue-wait buckets hold 15 so that the
// service level can also be read from the histogram.
var (
	queueWaitBuckets   = []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600}
	talkTimeBuckets    = []float64{10, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600}
	ledgerWriteBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
)

// New builds the metrics for the label sets of cfg, registers them (and the
// Go and process collectors) on reg, and returns them with every series at
// zero.
func New(reg prometheus.Registerer, cfg Config) (*Metrics, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("metrics config: %w", err)
	}
	lines := append(append([]string{}, cfg.Lines...), NoLine, Other)
	units := append(append([]string{}, cfg.Units...), NoUnit, Other)
	stages := append(append([]string{}, cfg.Stages...), Other)
	steps := append(append([]string{}, cfg.Steps...), Other)

	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	}

	var (
		choices   = counter("ivr_choices_total", "Business lines picked in the IVR menu (0: agent).", "line")
		offered   = counter("calls_offered_total", "Inbound calls put in the agent queue, by business line.", "line")
		answered  = counter("calls_answered_total", "Queued calls answered by an agent.", "line")
		inTime    = counter("calls_answered_in_time_total", "Queued calls answered by an agent within the service-level time (hotline_service_level_target_seconds).", "line")
		abandoned = counter("calls_abandoned_total", "Inbound calls the caller hung up before reaching an agent, in the menu or in the queue.", "line", "where")
		voicemail = counter("voicemails_total", "Messages left by callers (after hours, or after giving up in the queue).", "line")
		queueWait = histogram("queue_wait_seconds", "Time from entering the queue to an agent answering.", queueWaitBuckets, "line")
		talkTime  = histogram("talk_time_seconds", "Time an agent talked with the caller, transfers included.", talkTimeBuckets, "line")
		calls     = counter("calls_total", "Calls that reached or left the service.", "direction")
		active    = gauge("calls_active", "Calls in progress.", "direction")
		ended     = counter("calls_ended_total", "Calls ended, by why they ended.", "direction", "reason")
		deadlines = counter("ticket_deadlines_total", "Ticket deadlines passed, met or missed, by stage and responsible unit.", "stage", "unit", "result")
		reopened  = counter("tickets_reopened_total", "Tickets reopened after a dissatisfied callback.", "unit")
		callbacks = counter("callback_attempts_total", "Callback survey calls placed, by outcome (normal: the caller answered).", "outcome")
		ratings   = counter("satisfaction_responses_total", "Callback survey answers, by business line, unit and score.", "line", "unit", "score")
		backendUp = gauge("backend_up", "Whether a backend connection is up (1) or down (0): the SIP listener, the ARI connection, the ledger.", "backend")
		events    = counter("events_handled_total", "Engine events handled, by backend.", "backend")
		flowErrs  = counter("flow_errors_total", "Call-flow steps that failed for a reason other than the caller hanging up.", "step")
	)
	m := &Metrics{
		serviceLevel: cfg.ServiceLevel,
		lines:        make(map[string]*lineSeries, len(lines)),
		directions:   make(map[telephony.Direction]*directionSeries, 2),
		tickets:      make(map[unitStage]*deadlineSeries, len(units)*len(stages)),
		ratings:      make(map[lineUnit]*[3]prometheus.Counter, len(lines)*len(units)),
		reopened:     make(map[string]prometheus.Counter, len(units)),
		callbacks:    make(map[telephony.Reason]prometheus.Counter, len(telephony.Reasons)),
		backends:     make(map[string]*backendSeries, len(cfg.Backends)),
		flowErrors:   make(map[string]prometheus.Counter, len(steps)),
		agentsLoggedIn: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "agents_logged_in",
			Help: "Agents logged in."}),
		agentsAvailable: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "agents_available",
			Help: "Agents logged in and free to take a call."}),
		ticketsOpened: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "tickets_opened_total",
			Help: "Tickets registered in the ledger."}),
		ticketsRepeat: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "tickets_repeat_total",
			Help: "Tickets registered for a caller who already had an open ticket."}),
	}
	ledgerWrite := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "ledger_write_duration_seconds",
		Help: "Time to commit a write transaction to the ledger.", Buckets: ledgerWriteBuckets})
	m.ledgerWrite = ledgerWrite
	target := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "service_level_target_seconds",
		Help: "Answer time that counts as answered in time for the service level."})
	target.Set(cfg.ServiceLevel.Seconds())
	lineInfo := gauge("line_info", "Display name of a business line (value 1).", "line", "name")
	for id, name := range cfg.LineNames {
		lineInfo.WithLabelValues(id, name).Set(1)
	}
	unitInfo := gauge("unit_info", "Display name of a responsible unit (value 1).", "unit", "name")
	for id, name := range cfg.UnitNames {
		unitInfo.WithLabelValues(id, name).Set(1)
	}

	for _, l := range lines {
		m.lines[l] = &lineSeries{
			choices:          choices.WithLabelValues(l),
			offered:          offered.WithLabelValues(l),
			answered:         answered.WithLabelValues(l),
			answeredInTime:   inTime.WithLabelValues(l),
			abandonedInMenu:  abandoned.WithLabelValues(l, "menu"),
			abandonedInQueue: abandoned.WithLabelValues(l, "queue"),
			voicemails:       voicemail.WithLabelValues(l),
			queueWait:        queueWait.WithLabelValues(l),
			talkTime:         talkTime.WithLabelValues(l),
		}
		for _, u := range units {
			var r [3]prometheus.Counter
			for i, s := range scoreLabels {
				r[i] = ratings.WithLabelValues(l, u, s)
			}
			m.ratings[lineUnit{l, u}] = &r
		}
	}
	for _, d := range []telephony.Direction{telephony.Inbound, telephony.Outbound} {
		ds := &directionSeries{
			started: calls.WithLabelValues(string(d)),
			active:  active.WithLabelValues(string(d)),
			ended:   make(map[telephony.Reason]prometheus.Counter, len(telephony.Reasons)),
		}
		for _, r := range telephony.Reasons {
			ds.ended[r] = ended.WithLabelValues(string(d), string(r))
		}
		m.directions[d] = ds
	}
	for _, u := range units {
		m.reopened[u] = reopened.WithLabelValues(u)
		for _, s := range stages {
			m.tickets[unitStage{u, s}] = &deadlineSeries{
				met:    deadlines.WithLabelValues(s, u, "met"),
				missed: deadlines.WithLabelValues(s, u, "missed"),
			}
		}
	}
	for _, r := range telephony.Reasons {
		m.callbacks[r] = callbacks.WithLabelValues(string(r))
	}
	for _, b := range cfg.Backends {
		m.backends[b] = &backendSeries{up: backendUp.WithLabelValues(b), events: events.WithLabelValues(b)}
	}
	for _, s := range steps {
		m.flowErrors[s] = flowErrs.WithLabelValues(s)
	}

	for _, c := range []prometheus.Collector{
		choices, offered, answered, inTime, abandoned, voicemail, queueWait, talkTime,
		calls, active, ended, deadlines, reopened, callbacks, ratings, backendUp, events, flowErrs,
		m.agentsLoggedIn, m.agentsAvailable, m.ticketsOpened, m.ticketsRepeat, ledgerWrite, target, lineInfo, unitInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// line returns the series of a business line: NoLine for "", Other for a
// line not configured.
func (m *Metrics) line(line string) *lineSeries {
	if s, ok := m.lines[line]; ok {
		return s
	}
	return m.lines[known(m.lines, line)]
}

// known returns value when set has it; else "none" for "" when the set
// has it (lines, units); else Other.
func known[V any](set map[string]V, value string) string {
	if _, ok := set[value]; ok {
		return value
	}
	if value == "" {
		if _, ok := set[NoUnit]; ok {
			return NoUnit
		}
	}
	return Other
}

// CallStarted counts a call reaching (inbound) or leaving (outbound) the
// service and adds it to the calls in progress. Pair with CallEnded.
func (m *Metrics) CallStarted(dir telephony.Direction) {
	if d, ok := m.directions[dir]; ok {
		d.started.Inc()
		d.active.Inc()
	}
}

// CallEnded takes a call out of the calls in progress and counts why it
// ended; a reason outside telephony.Reasons counts as ReasonError.
func (m *Metrics) CallEnded(dir telephony.Direction, reason telephony.Reason) {
	d, ok := m.directions[dir]
	if !ok {
		return
	}
	d.active.Dec()
	c, ok := d.ended[reason]
	if !ok {
		c = d.ended[telephony.ReasonError]
	}
	c.Inc()
}

// IVRChoice counts the business line the caller picked in the menu.
func (m *Metrics) IVRChoice(line string) { m.line(line).choices.Inc() }

// CallOffered counts a call put in the agent queue for line.
func (m *Metrics) CallOffered(line string) { m.line(line).offered.Inc() }

// CallAnswered counts a queued call answered by an agent after waiting
// wait, for the queue-wait histogram and the service level.
func (m *Metrics) CallAnswered(line string, wait time.Duration) {
	s := m.line(line)
	s.answered.Inc()
	if wait <= m.serviceLevel {
		s.answeredInTime.Inc()
	}
	s.queueWait.Observe(wait.Seconds())
}

// AbandonedInMenu counts a caller hanging up before reaching the queue (in
// the welcome or the menu); line is "" when none was picked yet.
func (m *Metrics) AbandonedInMenu(line string) { m.line(line).abandonedInMenu.Inc() }

// AbandonedInQueue counts a caller hanging up while waiting for an agent.
func (m *Metrics) AbandonedInQueue(line string) { m.line(line).abandonedInQueue.Inc() }

// Voicemail counts a message left by a caller.
func (m *Metrics) Voicemail(line string) { m.line(line).voicemails.Inc() }

// TalkTime records how long an agent talked with a caller on line.
func (m *Metrics) TalkTime(line string, d time.Duration) { m.line(line).talkTime.Observe(d.Seconds()) }

// AgentsLoggedIn sets the number of agents logged in.
func (m *Metrics) AgentsLoggedIn(n int) { m.agentsLoggedIn.Set(float64(n)) }

// AgentsAvailable sets the number of agents free to take a call.
func (m *Metrics) AgentsAvailable(n int) { m.agentsAvailable.Set(float64(n)) }

// TicketOpened counts a ticket registered in the ledger; repeat tells that
// the caller already had an open ticket.
func (m *Metrics) TicketOpened(repeat bool) {
	m.ticketsOpened.Inc()
	if repeat {
		m.ticketsRepeat.Inc()
	}
}

// TicketReopened counts a ticket reopened after a dissatisfied callback.
func (m *Metrics) TicketReopened(unit string) { m.reopened[known(m.reopened, unit)].Inc() }

func (m *Metrics) deadline(stage, unit string) *deadlineSeries {
	if s, ok := m.tickets[unitStage{unit, stage}]; ok {
		return s
	}
	// m.reopened is keyed by every unit label.
	u := known(m.reopened, unit)
	if _, ok := m.tickets[unitStage{Other, stage}]; !ok {
		stage = Other
	}
	return m.tickets[unitStage{u, stage}]
}

// DeadlineMet counts a timed stage of a ticket done in time by unit ("":
// none yet, as for a transfer).
func (m *Metrics) DeadlineMet(stage, unit string) { m.deadline(stage, unit).met.Inc() }

// DeadlineMissed counts a timed stage of a ticket done late, or found
// overdue, by unit. Count each deadline once, met or missed.
func (m *Metrics) DeadlineMissed(stage, unit string) { m.deadline(stage, unit).missed.Inc() }

// CallbackAttempt counts a callback survey call placed and how it went
// (ReasonNormal: the caller answered).
func (m *Metrics) CallbackAttempt(outcome telephony.Reason) {
	c, ok := m.callbacks[outcome]
	if !ok {
		c = m.callbacks[telephony.ReasonError]
	}
	c.Inc()
}

// Satisfaction counts a callback survey answer for a ticket of line
// handled by unit. A score outside 1..3 is not counted.
func (m *Metrics) Satisfaction(line, unit string, score Score) {
	if score < Satisfied || score > Dissatisfied {
		return
	}
	r, ok := m.ratings[lineUnit{line, unit}]
	if !ok {
		r = m.ratings[lineUnit{known(m.lines, line), known(m.reopened, unit)}]
	}
	r[score-1].Inc()
}

// BackendUp sets whether a backend connection is up. A backend not in
// Config.Backends is not reported.
func (m *Metrics) BackendUp(backend string, up bool) {
	b, ok := m.backends[backend]
	if !ok {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	b.up.Set(v)
}

// EventHandled counts an engine event handled by backend.
func (m *Metrics) EventHandled(backend string) {
	if b, ok := m.backends[backend]; ok {
		b.events.Inc()
	}
}

// FlowError counts a failed flow step (not the caller hanging up).
func (m *Metrics) FlowError(step string) { m.flowErrors[known(m.flowErrors, step)].Inc() }

// LedgerWrite records how long a ledger write transaction took.
func (m *Metrics) LedgerWrite(d time.Duration) { m.ledgerWrite.Observe(d.Seconds()) }
