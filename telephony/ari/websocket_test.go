package ari

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// frame is one server frame: fin, opcode, payload (masked with mask when
// it is not nil).
func frame(fin bool, op byte, p string, mask []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	m := byte(0)
	if mask != nil {
		m = 0x80
	}
	switch n := len(p); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	payload := []byte(p)
	if mask != nil {
		out = append(out, mask...)
		payload = bytes.Clone(payload)
		unmask(payload, mask)
	}
	return append(out, payload...)
}

// clientFrames reads the (masked) frames the client sent: opcode and
// unmasked payload.
func clientFrames(t *testing.T, b []byte) (ops []byte, payloads []string) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 6 || b[1]&0x80 == 0 {
			t.Fatalf("client frame %x is not masked", b)
		}
		n := int(b[1] & 0x7f)
		p := bytes.Clone(b[6 : 6+n])
		unmask(p, b[2:6])
		ops, payloads = append(ops, b[0]&0x0f), append(payloads, string(p))
		b = b[6+n:]
	}
	return ops, payloads
}

func TestWSConnNext(t *testing.T) {
	big := strings.Repeat("x", 70000)
	for _, tc := range []struct {
		name    string
		max     int // default 1000
		frames  [][]byte
		want    []string // messages, then the error
		err     error    // nil: io.EOF after the messages
		sent    []byte   // opcodes the client sends back
		payload []string // and their payloads
	}{
		{name: "text and binary", frames: [][]byte{frame(true, 1, `{"a":1}`, nil), frame(true, 2, "bin", nil)},
			want: []string{`{"a":1}`, "bin"}},
		{name: "lengths 126 and 127", max: 1 << 20, frames: [][]byte{frame(true, 1, strings.Repeat("y", 300), nil), frame(true, 1, big, nil)},
			want: []string{strings.Repeat("y", 300), big}},
		{name: "fragments with a ping between", frames: [][]byte{frame(false, 1, "ab", nil), frame(true, 9, "hi", nil),
			frame(false, 0, "cd", nil), frame(true, 0, "ef", nil)},
			want: []string{"abcdef"}, sent: []byte{10}, payload: []string{"hi"}},
		{name: "masked by the server", frames: [][]byte{frame(true, 1, "masked", []byte{1, 2, 3, 4})}, want: []string{"masked"}},
		{name: "too large is skipped", frames: [][]byte{frame(false, 1, strings.Repeat("z", 600), nil),
			frame(true, 0, strings.Repeat("z", 600), nil), frame(true, 1, "next", nil)},
			want: []string{"", "next"}},
		{name: "close is answered", frames: [][]byte{frame(true, 1, "m", nil), frame(true, 8, "\x03\xe8", nil)},
			want: []string{"m"}, sent: []byte{8}, payload: []string{"\x03\xe8"}},
		{name: "reserved bits", frames: [][]byte{{0xc1, 0}}, err: errProtocol, sent: []byte{8}, payload: []string{"\x03\xea"}},
		{name: "continuation first", frames: [][]byte{frame(true, 0, "x", nil)}, err: errProtocol, sent: []byte{8}, payload: []string{"\x03\xea"}},
		{name: "unknown opcode", frames: [][]byte{frame(true, 3, "x", nil)}, err: errProtocol, sent: []byte{8}, payload: []string{"\x03\xea"}},
		{name: "long control frame", frames: [][]byte{frame(true, 9, strings.Repeat("p", 126), nil)}, err: errProtocol, sent: []byte{8}, payload: []string{"\x03\xea"}},
		{name: "cut in a frame", frames: [][]byte{frame(true, 1, "whole", nil)[:4]}, err: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cli, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			srv, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte, 1)
			go func() { // what the client sends, until it closes
				b, _ := io.ReadAll(srv)
				got <- b
			}()
			go func() {
				for _, f := range tc.frames {
					if _, err := srv.Write(f); err != nil {
						return
					}
				}
				_ = srv.(*net.TCPConn).CloseWrite()
			}()
			w := &wsConn{c: cli, br: bufio.NewReader(cli)}
			limit := tc.max
			if limit == 0 {
				limit = 1000
			}
			var msgs []string
			for len(msgs) < len(tc.want) {
				var m []byte
				m, err = w.next(limit)
				if errors.Is(err, errMessageTooLarge) {
					msgs = append(msgs, "")
					continue
				}
				if err != nil {
					break
				}
				msgs = append(msgs, string(m))
			}
			if err == nil && len(msgs) == len(tc.want) && tc.err != nil {
				_, err = w.next(limit)
			}
			if got, want := strings.Join(msgs, "|"), strings.Join(tc.want, "|"); got != want {
				t.Errorf("messages %.80q (%d bytes), want %.80q (%d bytes)", got, len(got), want, len(want))
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
			if len(tc.sent) > 0 && tc.err == nil {
				// a close from the server is read after the messages
				if _, err := w.next(limit); err != io.EOF {
					t.Errorf("after close: err = %v, want EOF", err)
				}
			}
			_ = cli.Close()
			ops, payloads := clientFrames(t, <-got)
			if !bytes.Equal(ops, tc.sent) || strings.Join(payloads, "|") != strings.Join(tc.payload, "|") {
				t.Errorf("client sent %v %q, want %v %q", ops, payloads, tc.sent, tc.payload)
			}
			_ = srv.Close()
		})
	}
}
