package telephony

import "log/slog"

// Mask hides the middle of a phone number for logs: "13812345678" becomes
// "138****5678". Short numbers keep only their last two digits visible.
// Every log line that carries a caller's number goes through it.
func Mask(number string) string {
	r := []rune(number)
	switch n := len(r); {
	case n == 0:
		return ""
	case n <= 4:
		return "**" + string(r[max(0, n-2):])
	case n <= 7:
		return string(r[:1]) + "***" + string(r[n-2:])
	default:
		return string(r[:3]) + "****" + string(r[n-4:])
	}
}

// MaskedNumber is a slog attribute carrying a masked number.
func MaskedNumber(key, number string) slog.Attr { return slog.String(key, Mask(number)) }
