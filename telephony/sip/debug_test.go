package sip

import (
	"log/slog"
	"os"

	sipmsg "github.com/emiago/sipgo/sip"
)

func init() {
	if os.Getenv("SIP_TRACE") != "" {
		sipmsg.SIPDebug = true
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
}
