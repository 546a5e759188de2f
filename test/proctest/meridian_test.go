package proctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeDemoBackends is a stand-in for `meridian demo-backends` that fails
// its first run as a taken port does, then prints the serving lines the
// real command prints.
const fakeDemoBackends = `#!/bin/sh
n=$(cat "$COUNTER" 2>/dev/null || echo 0)
echo $((n+1)) > "$COUNTER"
if [ "$n" = 0 ]; then
	echo "meridian demo-backends: listen tcp ${2%%=*}: bind: address already in use" >&2
	exit 1
fi
[ "$1" = demo-backends ] || exit 2
shift
for a in "$@"; do
	echo "time=x level=INFO msg=serving component=demo-backends backend=${a#*=} addr=${a%%=*} fail=\"curl\""
done
exec sleep 300
`

func TestStartDemoBackendsChoosesAgain(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "meridian")
	if err := os.WriteFile(bin, []byte(fakeDemoBackends), 0o755); err != nil {
		t.Fatal(err)
	}
	counter := filepath.Join(dir, "runs")
	env := append(os.Environ(), "COUNTER="+counter)
	port, p := StartDemoBackends(t, bin, env, []string{"127.0.0.1", "127.0.0.2"}, []string{"one", "two"})
	if p.Exited() {
		t.Fatalf("demo-backends exited: %v\n%s", p.Err(), p.Out.String())
	}
	runs, _ := os.ReadFile(counter)
	if strings.TrimSpace(string(runs)) != "2" {
		t.Errorf("demo-backends ran %s times, want 2 (a taken port, then another)", runs)
	}
	if !strings.Contains(p.Out.String(), "addr=127.0.0.2:"+strconv.Itoa(port)+" ") {
		t.Errorf("port %d is not the one served:\n%s", port, p.Out.String())
	}
}

func TestWaitServeReady(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ready.json")
	script := `printf '{"dns_udp":["127.0.0.1:53001"],"dns_tcp":["127.0.0.1:53001"],"http":"127.0.0.1:8001","pid":%d}\n' $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300`
	p := Start(t, "serve", exec.Command("sh", "-c", script, "sh", f))
	r, err := WaitServeReady(p, f, 10*time.Second)
	if err != nil || r.HTTP != "127.0.0.1:8001" || r.DNSUDP[0] != "127.0.0.1:53001" {
		t.Fatalf("WaitServeReady: %+v, %v", r, err)
	}
	// another process's ready file (a stale one, say) is refused
	f2 := filepath.Join(dir, "stale.json")
	if err := os.WriteFile(f2, []byte(`{"dns_udp":["a"],"dns_tcp":["a"],"http":"h","pid":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitServeReady(p, f2, 10*time.Second); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("a ready file with another pid: %v", err)
	}
}
