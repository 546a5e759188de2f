package proctest

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// httpClient bounds every request of a test: a server that hangs fails the
// test instead of the run.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// HTTPDo sends req and returns the status and body; a request that fails
// fails the test.
func HTTPDo(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(b)
}

// HTTP sends a request without a body (GET, or a POST that needs none)
// and returns the status and body.
func HTTP(t testing.TB, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return HTTPDo(t, req)
}
