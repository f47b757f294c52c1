package web

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// maxEventSize bounds one event read by ReadEvent.
const maxEventSize = 1 << 20

// ReadEvent reads the next server-sent event from r, skipping comments,
// and returns its type and data. It is the client side of /api/events, for
// consoles written in Go and for tests.
func ReadEvent(r *bufio.Reader) (typ string, data []byte, err error) {
	var buf bytes.Buffer
	size := 0
	for {
		line, err := r.ReadString('\n')
		size += len(line)
		if size > maxEventSize {
			return "", nil, fmt.Errorf("event larger than %d bytes", maxEventSize)
		}
		if err != nil {
			if err == io.EOF && line == "" {
				return "", nil, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", nil, fmt.Errorf("read event: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if typ != "" || buf.Len() > 0 {
				return typ, buf.Bytes(), nil
			}
		case strings.HasPrefix(line, ":"):
			// comment
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				typ = value
			case "data":
				if buf.Len() > 0 {
					buf.WriteByte('\n')
				}
				buf.WriteString(value)
			}
		}
	}
}
