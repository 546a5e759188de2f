package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/test/proctest"
)

// Operator overrides: a site or member drained (or forced) through the
// admin API leaves (or joins) the answers at once, without waiting for a
// probe; the file's overrides apply from the start and the API's beat
// them; API overrides survive a reload.
func TestHealthAdmin(t *testing.T) {
	t.Parallel()
	watchdog(t, 2*time.Minute)
	dir := t.TempDir()
	ips := []string{"127.31.7.1", "127.31.7.2", "127.31.7.3"}
	port, lns := listenSamePort(t, ips...)
	var bs []*backend
	for _, ln := range lns {
		bs = append(bs, startBackendOn(t, ln, nil))
	}
	const token = "e2e-admin-token-0123456789"
	writeFile(t, dir, "token", token+"\n")
	cfg := healthConfig(t, dir, []hsvc{{
		name:   "adm",
		policy: "{strategy: roundrobin, ttl: 30}",
		check:  httpCheck("http", port, ""),
		members: []string{
			"{site: a, addresses: [" + ips[0] + "]}", "{site: b, addresses: [" + ips[1] + "]}", "{site: c, addresses: [" + ips[2] + "]}",
		},
	}}, "admin:\n  token_file: token\n  sites: {c: drain}\n")
	m := startHealthMeridian(t, cfg)
	waitTargets(t, m, "up", bs[0].addr, bs[1].addr, bs[2].addr)
	const name = "adm.health.test"
	// nowAnswers: one query right after the change, no polling: an
	// override is published before the API answers.
	nowAnswers := func(what string, want ...string) {
		t.Helper()
		if a := ask(t, m, name); !exactly(want...)(a) {
			t.Fatalf("%s: %s, want %v at once", what, a, want)
		}
	}
	nowAnswers("site c drained in the file", ips[0], ips[1])

	put := func(path, mode string) {
		t.Helper()
		if code, body := adminCall(t, m, http.MethodPut, path, token, `{"mode": "`+mode+`"}`); code != http.StatusOK {
			t.Fatalf("PUT %s %s: %d %s", path, mode, code, body)
		}
	}
	put("/api/v1/admin/sites/b", "drain")
	nowAnswers("site b drained through the API", ips[0])
	put("/api/v1/admin/sites/c", "none") // the API beats the file
	nowAnswers("site c undrained through the API", ips[0], ips[2])
	if code, body := adminCall(t, m, http.MethodDelete, "/api/v1/admin/sites/b", token, ""); code != http.StatusOK {
		t.Fatalf("DELETE site b: %d %s", code, body)
	}
	nowAnswers("site b override removed", ips...)

	put("/api/v1/admin/members/adm.health.test/a/"+ips[0], "down")
	nowAnswers("member a forced down", ips[1], ips[2])
	out, err := run(t, 15*time.Second, meridianBin, "explain", name, "--client", "192.0.2.1", "--server", m.HTTP)
	if err != nil || !regexp.MustCompile(`a/127\.31\.7\.1 +0 +1 +up +down .*down \(admin\)`).MatchString(out) {
		t.Errorf("explain: want member a up by health, admin down, verdict \"down (admin)\" (err %v):\n%s", err, out)
	}

	// A down member forced up is answered anyway.
	bs[1].kill()
	waitAnswer(t, m, name, "b's backend killed", exactly(ips[2]))
	put("/api/v1/admin/members/adm.health.test./b/"+ips[1], "up")
	nowAnswers("dead member b forced up", ips[1], ips[2])

	// The overrides, by origin.
	code, body := adminCall(t, m, http.MethodGet, "/api/v1/admin", token, "")
	var list struct {
		File, API, Effective struct {
			Sites   []struct{ Site, Mode string }
			Members []struct{ Service, Member, Mode string }
		}
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil ||
		len(list.File.Sites) != 1 || list.File.Sites[0].Mode != "drain" ||
		len(list.API.Sites) != 1 || list.API.Sites[0].Site != "c" || list.API.Sites[0].Mode != "none" ||
		len(list.API.Members) != 2 || len(list.Effective.Sites) != 1 || list.Effective.Sites[0].Mode != "none" {
		t.Errorf("GET /api/v1/admin: %d %s", code, body)
	}

	// A reload keeps the API's overrides.
	if err := m.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(hangGuard)
	for {
		_, cfgBody := proctest.HTTP(t, "GET", m.HTTP+"/api/v1/config")
		if strings.Contains(cfgBody, `"generation": 2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	nowAnswers("after a reload", ips[1], ips[2])

	// Refusals name what is wrong.
	for _, tc := range []struct {
		method, path, token, body string
		code                      int
		want                      string
	}{
		{http.MethodPut, "/api/v1/admin/sites/a", "", `{"mode":"drain"}`, 401, "missing bearer token"},
		{http.MethodPut, "/api/v1/admin/sites/a", "wrong-token-wrong-token", `{"mode":"drain"}`, 403, "invalid bearer token"},
		{http.MethodGet, "/api/v1/admin", "", "", 401, "missing bearer token"},
		{http.MethodPut, "/api/v1/admin/sites/moon", token, `{"mode":"drain"}`, 404, `unknown site \"moon\"`},
		{http.MethodPut, "/api/v1/admin/members/nope.health.test/a/" + ips[0], token, `{"mode":"drain"}`, 404, `unknown service \"nope.health.test\"`},
		{http.MethodPut, "/api/v1/admin/members/adm.health.test/a/192.0.2.1", token, `{"mode":"drain"}`, 404, `has no member \"a/192.0.2.1\"`},
		{http.MethodPut, "/api/v1/admin/sites/a", token, `{"mode":"sleep"}`, 400, `mode: want one of [none up down drain]`},
		{http.MethodPut, "/api/v1/admin/sites/a", token, `{"mood":"drain"}`, 400, `unknown field`},
	} {
		if code, body := adminCall(t, m, tc.method, tc.path, tc.token, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s (token %q) %s: %d %s, want %d with %q", tc.method, tc.path, tc.token, tc.body, code, body, tc.code, tc.want)
		}
	}
	nowAnswers("after refused requests", ips[1], ips[2])
	if _, err := os.Stat(filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
}
