package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// uiResponse is a response read whole.
type uiResponse struct {
	StatusCode int
	Header     http.Header
}

func uiGet(t *testing.T, url string, header ...string) (uiResponse, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return uiResponse{res.StatusCode, res.Header}, b
}

// assetPaths are the /ui/ paths that index.html names.
func assetPaths(t *testing.T, page []byte) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`"(/ui/[^"]+)"`).FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	if len(out) != len(uiAssets) {
		t.Fatalf("index.html names %v, want the %d assets %v", out, len(uiAssets), uiAssets)
	}
	return out
}

// The page: no-cache with an ETag, a strict CSP, hashed assets cached for
// a year, gzip when asked, 304 on a match.
func TestStatusPageServing(t *testing.T) {
	srv := testAPI(t, func() (bool, string) { return true, "" })
	res, page := uiGet(t, srv.URL+"/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET /: Cache-Control %q, want no-cache", cc)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self';", "style-src 'self';", "connect-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("GET /: Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("GET /: Content-Security-Policy %q allows unsafe sources", csp)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /: no X-Content-Type-Options: nosniff")
	}
	etag := res.Header.Get("ETag")
	if r2, body := uiGet(t, srv.URL+"/", "If-None-Match", etag); etag == "" || r2.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("GET / with If-None-Match %s: %d with %d bytes, want 304", etag, r2.StatusCode, len(body))
	}
	if r2, body := uiGet(t, srv.URL+"/index.html"); r2.StatusCode != http.StatusOK || !bytes.Equal(body, page) {
		t.Errorf("GET /index.html: %d, not the page", r2.StatusCode)
	}

	total := len(page)
	for _, p := range assetPaths(t, page) {
		if !regexp.MustCompile(`^/ui/[a-z]+\.[0-9a-f]{12}\.(css|js|svg)$`).MatchString(p) {
			t.Errorf("asset %s: not a hashed path", p)
		}
		res, body := uiGet(t, srv.URL+p)
		if res.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s: %d", p, res.StatusCode)
		}
		total += len(body)
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want a year, immutable", p, cc)
		}
		ct := res.Header.Get("Content-Type")
		for ext, want := range map[string]string{".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"} {
			if strings.HasSuffix(p, ext) && !strings.Contains(ct, want) {
				t.Errorf("GET %s: Content-Type %q, want %s", p, ct, want)
			}
		}
		zres, zbody := uiGet(t, srv.URL+p, "Accept-Encoding", "gzip, br")
		if zres.Header.Get("Content-Encoding") != "gzip" || zres.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("GET %s with Accept-Encoding gzip: Content-Encoding %q Vary %q", p, zres.Header.Get("Content-Encoding"), zres.Header.Get("Vary"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(zbody))
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, body) {
			t.Errorf("GET %s gzipped: not the same file (%v)", p, err)
		}
		if zres, _ := uiGet(t, srv.URL+p, "Accept-Encoding", "gzip;q=0"); zres.Header.Get("Content-Encoding") != "" {
			t.Errorf("GET %s with gzip;q=0: gzipped all the same", p)
		}
	}
	// The budget: every file of the page under 500 KB.
	if total > 500_000 {
		t.Errorf("the status page weighs %d bytes, over 500 KB", total)
	}
	t.Logf("status page: %d bytes in %d files", total, 1+len(uiAssets))

	// An asset under another hash is not served (the cache would keep it).
	if res, _ := uiGet(t, srv.URL+"/ui/app.000000000000.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET a stale asset path: %d, want 404", res.StatusCode)
	}
}

// Every GET path but the page's is answered as the API answers: JSON
// 404, or JSON 405 with Allow where other methods have a route; the API's
// own routes are untouched.
func TestStatusPageLeavesTheAPI(t *testing.T) {
	srv := testAPI(t, func() (bool, string) { return true, "" })
	for _, tc := range []struct {
		path  string
		code  int
		allow string
	}{
		{"/api/v1/nope", http.StatusNotFound, ""},
		{"/api/v1/overview/nope", http.StatusNotFound, ""},
		{"/nope.html", http.StatusNotFound, ""},
		{"/ui/", http.StatusNotFound, ""},
		{"/ui/app.js", http.StatusNotFound, ""},
		{"/ui/gen/main.go", http.StatusNotFound, ""},
		{"/ui/testdata/overview.json", http.StatusNotFound, ""},
		{"/api/v1/admin/sites/us-east", http.StatusMethodNotAllowed, "DELETE, PUT"},
	} {
		res, body := uiGet(t, srv.URL+tc.path)
		var e Error
		if res.StatusCode != tc.code || res.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || e.Error == "" {
			t.Errorf("GET %s: %d %s %q, want %d with a JSON error", tc.path, res.StatusCode, res.Header.Get("Content-Type"), body, tc.code)
		}
		if got := res.Header.Get("Allow"); got != tc.allow {
			t.Errorf("GET %s: Allow %q, want %q", tc.path, got, tc.allow)
		}
	}
	for _, p := range []string{"/healthz", "/api/v1/overview", "/api/v1/services"} {
		if res, body := uiGet(t, srv.URL+p); res.StatusCode != http.StatusOK || strings.Contains(string(body), "<!doctype html>") {
			t.Errorf("GET %s: %d, or the status page instead of the endpoint", p, res.StatusCode)
		}
	}
	// Other methods on the page: 405 as before.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", res.StatusCode)
	}
}

// The page loads nothing from elsewhere: no absolute URL to another host
// in its files, no inline script or style attribute (the CSP would block
// them), and the map is the generated one.
func TestStatusPageSelfContained(t *testing.T) {
	ext := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for _, name := range append([]string{"index.html"}, uiAssets...) {
		b, err := uiFiles.ReadFile("ui/" + name)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if name == "land.svg" {
			text = strings.Replace(text, `xmlns="http://www.w3.org/2000/svg"`, "", 1)
		}
		if name == "app.js" {
			text = strings.Replace(text, `'http://www.w3.org/2000/svg'`, "", 1)
		}
		if m := ext.FindString(text); m != "" {
			t.Errorf("ui/%s names another host: %s", name, m)
		}
	}
	page, _ := uiFiles.ReadFile("ui/index.html")
	if regexp.MustCompile(`(?i)<script(?:[^>]*)>\s*[^<\s]|\sstyle=|\son[a-z]+=`).Match(page) {
		t.Error("ui/index.html has an inline script, a style attribute or an event handler attribute")
	}
	land, _ := uiFiles.ReadFile("ui/land.svg")
	if !bytes.Contains(land, []byte("world-atlas")) || !bytes.Contains(land, []byte(`<path id="land" d="M`)) || len(land) < 10_000 {
		t.Errorf("ui/land.svg is not the generated Natural Earth map (%d bytes)", len(land))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "br, gzip": true, "GZIP;q=0.5": true, "gzip;q=0": false, "gzip; q=0.000": false, "deflate": false, "x-gzip": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}
