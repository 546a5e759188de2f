package e2e

// Helpers of the status page's browser tests: a headless Chromium (Debian's
// chromium package) driven with chromedp, which records every request the
// page makes, every console message and exception, and keeps screenshots
// as artefacts.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab's; actions run with a timeout derived from it
	dir string          // where screenshots go

	mu       sync.Mutex
	requests []pageRequest
	console  []chromedp.ConsoleMessage
}

// pageRequest is one request the page made and what came of it.
type pageRequest struct {
	id       network.RequestID
	url      string
	typ      network.ResourceType
	status   int64
	encoded  float64 // bytes on the wire (headers and body), when it finished
	finished bool
}

// artefactsDir is where the browser tests keep their screenshots:
// $MERIDIAN_ARTIFACTS/<test> when set (CI keeps it), else a directory of
// the test's own (removed with it). The path is logged.
func artefactsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if root := os.Getenv("MERIDIAN_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// startBrowser starts Chromium headless (as root, without its sandbox,
// which needs user namespaces a container may not give), sized as a
// laptop screen. A missing chromium skips locally and fails under CI.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := proctest.RequireTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// nothing but the page's own requests: no updates, no
		// safe-browsing lists, no domain reliability reports
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	b := &browser{t: t, dir: artefactsDir(t)}
	// chromedp's own log goes to a buffer, printed if the test fails:
	// its goroutines may still write after the test ends, when t.Logf
	// must not be called.
	var logMu sync.Mutex
	var logs []string
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}
	t.Cleanup(func() { // runs last: after the browser is gone
		logMu.Lock()
		defer logMu.Unlock()
		if t.Failed() && len(logs) > 0 {
			t.Logf("chromedp:\n%s", strings.Join(logs, "\n"))
		}
	})
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b.ctx = ctx
	// The first Run starts the browser; it must not have a timeout (it
	// would end the browser with it), so start it with a bounded wait
	// around it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("chromium %s: %v", bin, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("chromium %s did not start in 60 s", bin)
	}
	if err := chromedp.Listen(ctx, b.event); err != nil {
		t.Fatal(err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// event records the page's requests (it runs on chromedp's reading
// goroutine: quick, no commands).
func (b *browser) event(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	find := func(id network.RequestID) *pageRequest {
		for i := range b.requests {
			if b.requests[i].id == id {
				return &b.requests[i]
			}
		}
		return nil
	}
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if r := find(e.RequestID); r != nil && e.RedirectResponse != nil {
			r.url = e.Request.URL // a redirect: the same request, a new URL
			return
		}
		b.requests = append(b.requests, pageRequest{id: e.RequestID, url: e.Request.URL, typ: e.Type})
	case *network.EventResponseReceived:
		if r := find(e.RequestID); r != nil {
			r.status = e.Response.Status
		}
	case *network.EventLoadingFinished:
		if r := find(e.RequestID); r != nil {
			r.encoded, r.finished = e.EncodedDataLength, true
		}
	}
}

// run runs actions with a bound.
func (b *browser) run(d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is truthy, for up to d;
// a timeout fails the test with what and the value of explain then.
func (b *browser) waitFor(d time.Duration, what, predicate, explain string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		got := "?"
		if explain != "" {
			got = eval[string](b, "JSON.stringify("+explain+")")
		}
		b.t.Fatalf("%s: not within %v (%v); the page has %s\nconsole problems: %q\nrequests: %v", what, d, err, got, b.problems(), b.requestURLs())
	}
}

// screenshot saves the whole page as name.png among the artefacts.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Error(err)
		return
	}
	b.t.Logf("screenshot: %s", p)
}

// phone makes the viewport a phone's (portrait, mobile, touch), or back
// to the laptop's with off.
func (b *browser) phone(on bool) {
	b.t.Helper()
	if !on {
		b.run(10*time.Second, "reset the viewport", chromedp.EmulateReset())
		return
	}
	b.run(10*time.Second, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
}

// requestsNotTo are the page's requests to anything but the origins
// (http://host:port) of the servers it was opened on: none is allowed.
func (b *browser) requestsNotTo(origins ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.requests {
		ok := strings.HasPrefix(r.url, "data:")
		for _, o := range origins {
			ok = ok || r.url == o || strings.HasPrefix(r.url, o+"/")
		}
		if !ok {
			out = append(out, r.url)
		}
	}
	return out
}

// problems are the console errors and warnings and the uncaught
// exceptions so far.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleException, chromedp.ConsoleWarning, "assert":
			out = append(out, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
		}
	}
	return out
}

// requestURLs are the URLs of the page's requests, for failure messages.
func (b *browser) requestURLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.requests {
		out = append(out, fmt.Sprintf("%s %d", r.url, r.status))
	}
	return out
}

// weight sums the requests that finished (the stream never does): bytes
// on the wire and how many.
func (b *browser) weight() (bytes float64, n int, urls []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.requests {
		if r.finished {
			bytes += r.encoded
			n++
			urls = append(urls, r.url)
		}
	}
	slices.Sort(urls)
	return bytes, n, urls
}
