package aritest

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends v as JSON. It knows the types the fake builds events
// and answers from (strings, numbers, booleans, slices, maps and the
// channel structs) and writes them without reflection: with a thousand
// calls, encoding/json's map encoder was a third of the fake's CPU. Map
// keys are sorted, as encoding/json sorts them; anything else goes
// through encoding/json.
func appendJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		return appendMap(b, v, nil, nil)
	case Event:
		return appendMap(b, v, nil, nil)
	case map[string]string:
		keys := sortedKeys(v)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, v[k])
		}
		return append(b, '}')
	case channelJSON:
		return v.appendJSON(b)
	case callerJSON:
		return v.appendJSON(b)
	case dialplanJSON:
		return v.appendJSON(b)
	case playbackJSON:
		return v.appendJSON(b)
	}
	j, err := json.Marshal(v)
	if err != nil {
		panic("aritest: marshal: " + err.Error())
	}
	return append(b, j...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendMap appends m with the keys of first (those present) first, those
// of last at the end, and the others sorted between, as Asterisk puts
// "type" and "timestamp" first and "asterisk_id" and "application" last.
func appendMap(b []byte, m map[string]any, first, last []string) []byte {
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		if !slices.Contains(first, k) && !slices.Contains(last, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	n := 0
	member := func(k string) {
		v, ok := m[k]
		if !ok {
			return
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, k)
		b = append(b, ':')
		b = appendJSON(b, v)
	}
	for _, k := range first {
		member(k)
	}
	for _, k := range keys {
		member(k)
	}
	for _, k := range last {
		member(k)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (c callerJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"number":`...)
	b = appendString(b, c.Number)
	return append(b, '}')
}

func (d dialplanJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"context":`...)
	b = appendString(b, d.Context)
	b = append(b, `,"exten":`...)
	b = appendString(b, d.Exten)
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(d.Priority), 10)
	b = append(b, `,"app_name":`...)
	b = appendString(b, d.AppName)
	b = append(b, `,"app_data":`...)
	b = appendString(b, d.AppData)
	return append(b, '}')
}

// appendJSON writes the fields in Asterisk's order (the struct's).
func (c channelJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, c.Name)
	b = append(b, `,"state":`...)
	b = appendString(b, c.State)
	b = append(b, `,"protocol_id":`...)
	b = appendString(b, c.ProtocolID)
	b = append(b, `,"caller":`...)
	b = c.Caller.appendJSON(b)
	b = append(b, `,"connected":`...)
	b = c.Connected.appendJSON(b)
	b = append(b, `,"accountcode":`...)
	b = appendString(b, c.Accountcode)
	b = append(b, `,"dialplan":`...)
	b = c.Dialplan.appendJSON(b)
	b = append(b, `,"creationtime":`...)
	b = appendString(b, c.Creationtime)
	b = append(b, `,"language":`...)
	b = appendString(b, c.Language)
	return append(b, '}')
}

func (p playbackJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"media_uri":`...)
	b = appendString(b, p.MediaURI)
	b = append(b, `,"target_uri":`...)
	b = appendString(b, p.TargetURI)
	b = append(b, `,"language":`...)
	b = appendString(b, p.Language)
	b = append(b, `,"state":`...)
	b = appendString(b, p.State)
	return append(b, '}')
}
