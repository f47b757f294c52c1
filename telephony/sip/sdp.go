package sip

import (
	"errors"
	"strconv"
	"strings"
)

var (
	errBadSDP        = errors.New("malformed SDP offer")
	errNoCommonCodec = errors.New("no common codec (PCMU, PCMA)")
)

// checkOffer reads an SDP offer just enough to refuse it early: it must
// have an RTP/AVP audio stream on a real port with a connection address,
// and offer PCMU or PCMA. diago does the real negotiation.
func checkOffer(body []byte) error {
	var haveV, haveC, haveAudio, g711 bool
	var formats []string
	rtpmap := map[string]string{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return errBadSDP
		}
		val := line[2:]
		switch line[0] {
		case 'v':
			haveV = true
		case 'c':
			if len(strings.Fields(val)) != 3 {
				return errBadSDP
			}
			haveC = true
		case 'm':
			f := strings.Fields(val)
			if len(f) < 4 {
				return errBadSDP
			}
			if f[0] != "audio" {
				continue
			}
			port, err := strconv.Atoi(strings.Split(f[1], "/")[0])
			if err != nil || port < 0 || port > 65535 {
				return errBadSDP
			}
			if port != 0 && strings.HasPrefix(f[2], "RTP/AVP") {
				haveAudio = true
				formats = append(formats, f[3:]...)
			}
		case 'a':
			if rest, ok := strings.CutPrefix(val, "rtpmap:"); ok {
				pt, enc, ok := strings.Cut(rest, " ")
				if !ok {
					return errBadSDP
				}
				rtpmap[pt] = strings.ToUpper(enc)
			}
		}
	}
	if !haveV || !haveC || !haveAudio {
		return errBadSDP
	}
	for _, f := range formats {
		enc, mapped := rtpmap[f]
		switch {
		case !mapped && (f == "0" || f == "8"):
			g711 = true
		case strings.HasPrefix(enc, "PCMU/8000") || strings.HasPrefix(enc, "PCMA/8000"):
			g711 = true
		}
	}
	if !g711 {
		return errNoCommonCodec
	}
	return nil
}
