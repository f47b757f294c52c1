package sip

import (
	"encoding/binary"
	"strings"
	"time"
)

// dtmfDetector turns RFC 4733 telephone-event packets into digits. diago's
// own reader drops a digit whose first packet has duration 0 (SIPp's
// captures, some phones); this one keys each event on its RTP timestamp,
// reports it once, on its first end-of-event packet, or, when every end
// packet was lost, as soon as a later event or audio shows the press is
// over. Retransmitted end packets and repeated starts are ignored.
type dtmfDetector struct {
	active   bool   // an event has been seen
	ts       uint32 // RTP timestamp of the current event
	event    uint8
	reported bool
	last     time.Time // when the current event's last packet came
}

// lostEndAfter is how long after its last packet an event whose end never
// came is reported anyway, once audio shows the sender moved on.
const lostEndAfter = 120 * time.Millisecond

// packet feeds one telephone-event payload; it returns the digit to report,
// or 0.
func (d *dtmfDetector) packet(ts uint32, payload []byte, now time.Time) rune {
	if len(payload) < 4 {
		return 0
	}
	ev, end := payload[0], payload[1]&0x80 != 0
	var out rune
	if !d.active || ts != d.ts || ev != d.event {
		out = d.pending()
		*d = dtmfDetector{active: true, ts: ts, event: ev}
	}
	d.last = now
	if end && !d.reported {
		d.reported = true
		if r := digitOf(ev); r != 0 {
			if out != 0 {
				// The previous event lost its end and this one ended in one
				// packet: report the older now, this one on its next packet
				// (end packets are sent three times).
				d.reported = false
				return out
			}
			return r
		}
	}
	return out
}

// audio is told of every audio packet; it reports an event whose end
// packets were all lost once audio has followed it for a while.
func (d *dtmfDetector) audio(now time.Time) rune {
	if d.active && !d.reported && now.Sub(d.last) > lostEndAfter {
		return d.pending()
	}
	return 0
}

// pending reports the current event if it was never reported.
func (d *dtmfDetector) pending() rune {
	if !d.active || d.reported {
		return 0
	}
	d.reported = true
	return digitOf(d.event)
}

func digitOf(ev uint8) rune {
	const keys = "0123456789*#ABCD"
	if int(ev) < len(keys) {
		return rune(keys[ev])
	}
	return 0 // flash and other events are not digits
}

func eventOf(r rune) (uint8, bool) {
	const keys = "0123456789*#ABCD"
	i := strings.IndexRune(keys, r)
	return uint8(i), i >= 0
}

// infoDigit reads the digit of a SIP INFO body: application/dtmf-relay
// ("Signal=5\r\nDuration=160") or application/dtmf ("5").
func infoDigit(contentType string, body []byte) (rune, bool) {
	s := strings.TrimSpace(string(body))
	switch strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0])) {
	case "application/dtmf-relay":
		for line := range strings.Lines(s) {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				s = strings.TrimSpace(v)
				break
			}
			s = ""
		}
	case "application/dtmf":
	default:
		return 0, false
	}
	if len(s) != 1 {
		// Signal=10 and 11 are sometimes sent for * and #.
		switch s {
		case "10":
			return '*', true
		case "11":
			return '#', true
		}
		return 0, false
	}
	r := rune(strings.ToUpper(s)[0])
	if _, ok := eventOf(r); !ok {
		return 0, false
	}
	return r, true
}

// eventPayload encodes one RFC 4733 payload.
func eventPayload(ev uint8, end bool, volume uint8, duration uint16) []byte {
	p := make([]byte, 4)
	p[0] = ev
	p[1] = volume & 0x3f
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], duration)
	return p
}
