package consoletest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's chromium, installed by tests/setup.sh.
const ChromiumPath = "/usr/bin/chromium"

// Browser is one headless Chromium shared by the tests of a package: it
// starts on the first Tab and stops on Close (call it from TestMain).
type Browser struct {
	once    sync.Once
	ctx     context.Context
	cancel  func()
	dataDir string
	err     error
}

func (b *Browser) start() {
	b.dataDir, b.err = os.MkdirTemp("", "chromium-")
	if b.err != nil {
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(b.dataDir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b.ctx = ctx
	b.cancel = func() { cancelCtx(); cancelAlloc() }
	b.err = chromedp.Do(ctx) // launches the browser
}

// Tab opens a tab with cookies of its own (a fresh browser context); it
// closes with the test. Without chromium the test is skipped.
func (b *Browser) Tab(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("no chromium at %s (tests/setup.sh installs it): %v", ChromiumPath, err)
	}
	b.once.Do(b.start)
	if b.err != nil {
		t.Fatalf("start chromium: %v", b.err)
	}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// Close stops the browser, if it was started, and removes its profile.
func (b *Browser) Close() {
	if b.cancel != nil {
		b.cancel()
	}
	if b.dataDir != "" {
		os.RemoveAll(b.dataDir)
	}
}

// StepTimeout bounds one Do or Run in a tab.
const StepTimeout = 20 * time.Second

// Do runs steps in a tab within StepTimeout, failing the test on error.
func Do(t testing.TB, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Run runs an action with a value in a tab within StepTimeout.
func Run[T any](t testing.TB, tab context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// MarkStale marks the current document, so that a wait for Fresh(sel)
// finds sel only on the next page.
var MarkStale = chromedp.Evaluate[chromedp.Void](`document.body.dataset.stale = "1"`)

// Fresh scopes a selector to a page loaded after MarkStale.
func Fresh(sel string) string { return "body:not([data-stale]) " + sel }

// Login logs in through the console's login page.
func Login(t testing.TB, tab context.Context, base, name, password string) {
	t.Helper()
	Do(t, tab,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", name),
		chromedp.SendKeys("#password", password),
		MarkStale,
		chromedp.Click("#login"),
		chromedp.WaitVisible(Fresh("header .who")),
	)
}
