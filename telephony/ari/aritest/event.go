package aritest

import "strconv"

// fevent is an event as the fake raised it: the channel and playback
// events, nearly all of them, in fields; the others as the map they were
// built as. The Event map a test sees is made from it only when a test
// asks for it (Next, Events): at a thousand calls the maps were most of
// what the fake allocated.
type fevent struct {
	typ, stamp, app string
	hasCh, hasPb    bool
	digit           string         // ChannelDtmfReceived: "digit" (and "duration_ms": 280)
	ch              channelJSON    // the "channel" member, if hasCh
	pb              playbackJSON   // the "playback" member, if hasPb
	extra           map[string]any // other members (the whole event when m is)
	m               Event          // the event as a map, once made
}

// event returns the event as a map, as encoding/json would have decoded
// the fake's own values.
func (e *fevent) event() Event {
	if e.m != nil {
		return e.m
	}
	m := make(Event, len(e.extra)+5)
	for k, v := range e.extra {
		m[k] = v
	}
	m["type"], m["timestamp"], m["asterisk_id"], m["application"] = e.typ, e.stamp, asteriskID, e.app
	if e.hasCh {
		m["channel"] = e.ch
	}
	if e.hasPb {
		m["playback"] = e.pb
	}
	if e.digit != "" {
		m["digit"], m["duration_ms"] = e.digit, dtmfDuration
	}
	e.m = m
	return m
}

// dtmfDuration is how long the phones hold a key, in ms, as SIPp's
// captures show.
const dtmfDuration = 280

// asteriskID is the lab Asterisk's entity id.
const asteriskID = "00:00:00:00:00:00"

// appendEvent appends e as JSON, members in Asterisk's order: type and
// timestamp first, asterisk_id and application last, the others sorted.
func (e *fevent) appendJSON(b []byte) []byte {
	var buf [8]string
	keys := buf[:0]
	for k := range e.extra {
		keys = append(keys, k)
	}
	if e.hasCh {
		keys = append(keys, "channel")
	}
	if e.hasPb {
		keys = append(keys, "playback")
	}
	if e.digit != "" {
		keys = append(keys, "digit", "duration_ms")
	}
	sortStrings(keys)
	b = append(b, `{"type":`...)
	b = appendString(b, e.typ)
	b = append(b, `,"timestamp":`...)
	b = appendString(b, e.stamp)
	for _, k := range keys {
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		switch {
		case k == "channel" && e.hasCh:
			b = e.ch.appendJSON(b)
		case k == "playback" && e.hasPb:
			b = e.pb.appendJSON(b)
		case k == "digit" && e.digit != "":
			b = appendString(b, e.digit)
		case k == "duration_ms" && e.digit != "":
			b = strconv.AppendInt(b, dtmfDuration, 10)
		default:
			b = appendJSON(b, e.extra[k])
		}
	}
	b = append(b, `,"asterisk_id":"`+asteriskID+`","application":`...)
	b = appendString(b, e.app)
	return append(b, '}')
}

// sortStrings sorts a few strings in place, without allocating.
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
