package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrcodeCommand writes the service-quality QR code (第二条) that leads to
// the console's public complaint form.
func qrcodeCommand() command {
	return command{summary: "write the QR code PNG of the public complaint form", run: runQRCode}
}

func runQRCode(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("qrcode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base-url", "", "public address of the console, e.g. https://96596.example.cn")
	out := fs.String("out", "qr.png", "PNG file to write")
	size := fs.Int("size", 512, "image width and height in pixels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := formURL(*base)
	if err != nil {
		return err
	}
	if *size < 128 || *size > 4096 {
		return fmt.Errorf("--size %d: between 128 and 4096 pixels", *size)
	}
	// Medium error correction survives a worn poster; the URL is short.
	if err := qrcode.WriteFile(target, qrcode.Medium, *size, *out); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "%s -> %s\n", target, *out)
	return nil
}

// formURL is the address of the QR form under the console's base URL.
func formURL(base string) (string, error) {
	if base == "" {
		return "", errors.New("--base-url is required")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--base-url %q: want an absolute http(s) address without query", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/qr"
	return u.String(), nil
}
