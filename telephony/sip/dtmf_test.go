package sip

import (
	"testing"
	"time"
)

func TestDTMFDetector(t *testing.T) {
	type pkt struct {
		audio bool
		ts    uint32
		ev    uint8
		end   bool
		dur   uint16
		at    time.Duration
	}
	press := func(ts uint32, ev uint8, at time.Duration, durs ...uint16) []pkt {
		var out []pkt
		for i, d := range durs {
			out = append(out, pkt{ts: ts, ev: ev, dur: d, at: at + time.Duration(i)*20*time.Millisecond})
		}
		last := durs[len(durs)-1]
		for i := range 3 {
			out = append(out, pkt{ts: ts, ev: ev, end: true, dur: last, at: at + time.Duration(len(durs)+i)*20*time.Millisecond})
		}
		return out
	}
	cat := func(ps ...[]pkt) []pkt {
		var out []pkt
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		pkts []pkt
		want string
	}{
		{name: "one key, end sent three times", pkts: press(1000, 5, 0, 160, 320), want: "5"},
		{name: "first packet duration 0 (SIPp captures)", pkts: press(1000, 1, 0, 0, 160, 320), want: "1"},
		{name: "same key twice", pkts: cat(press(1000, 7, 0, 160), press(3000, 7, time.Second, 160)), want: "77"},
		{name: "every key", pkts: cat(press(0, 0, 0, 160), press(1, 1, 0, 160), press(2, 2, 0, 160), press(3, 3, 0, 160),
			press(4, 4, 0, 160), press(5, 5, 0, 160), press(6, 6, 0, 160), press(7, 7, 0, 160), press(8, 8, 0, 160),
			press(9, 9, 0, 160), press(10, 10, 0, 160), press(11, 11, 0, 160)), want: "0123456789*#"},
		{name: "end lost, next key shows it", pkts: []pkt{{ts: 10, ev: 2, dur: 160}, {ts: 10, ev: 2, dur: 320},
			{ts: 900, ev: 3, dur: 160}, {ts: 900, ev: 3, end: true, dur: 320}}, want: "23"},
		{name: "end lost, audio shows it", pkts: []pkt{{ts: 10, ev: 4, dur: 160}, {audio: true, at: 50 * time.Millisecond},
			{audio: true, at: 300 * time.Millisecond}}, want: "4"},
		{name: "only end packets", pkts: []pkt{{ts: 5, ev: 9, end: true, dur: 800}, {ts: 5, ev: 9, end: true, dur: 800}}, want: "9"},
		{name: "flash is no digit", pkts: press(1, 16, 0, 160), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d dtmfDetector
			t0 := time.Unix(0, 0)
			got := ""
			for _, p := range tt.pkts {
				var r rune
				if p.audio {
					r = d.audio(t0.Add(p.at))
				} else {
					r = d.packet(p.ts, eventPayload(p.ev, p.end, 10, p.dur), t0.Add(p.at))
				}
				if r != 0 {
					got += string(r)
				}
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInfoDigit(t *testing.T) {
	tests := []struct {
		ct, body string
		want     rune
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"application/dtmf-relay", "Signal= #\nDuration=100", '#', true},
		{"application/dtmf-relay", "Signal=10\r\n", '*', true},
		{"application/dtmf", "7", '7', true},
		{"application/dtmf-relay", "Duration=160", 0, false},
		{"text/plain", "5", 0, false},
		{"application/dtmf-relay", "Signal=X", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.ct+" "+tt.body, func(t *testing.T) {
			got, ok := infoDigit(tt.ct, []byte(tt.body))
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzDTMFDetector(f *testing.F) {
	f.Add(uint32(1), []byte{1, 0x8a, 0, 0})
	f.Fuzz(func(t *testing.T, ts uint32, payload []byte) {
		var d dtmfDetector
		_ = d.packet(ts, payload, time.Unix(0, 0))
		_ = d.audio(time.Unix(1, 0))
	})
}

func FuzzInfoDigit(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=1\r\nDuration=100"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) { _, _ = infoDigit(ct, body) })
}
