package proctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDemoBackends is a stand-in for `meridian demo-backends`: it checks
// that it was asked for port 0 and a ready file, and writes the file as
// the real command does, with port $PORT on every address.
const fakeDemoBackends = `#!/bin/sh
[ "$1" = demo-backends ] && [ "$2" = --ready-file ] || exit 2
f=$3
shift 3
sep=
b=
for a in "$@"; do
	addr=${a%%=*}
	[ "${addr##*:}" = 0 ] || { echo "not port 0: $a" >&2; exit 2; }
	b="$b$sep{\"name\":\"${a#*=}\",\"addr\":\"${addr%:0}:$PORT\"}"
	sep=,
done
printf '{"backends":[%s],"pid":%d}\n' "$b" $$ > "$f.tmp"
mv "$f.tmp" "$f"
exec sleep 300
`

func TestStartDemoBackends(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "meridian")
	if err := os.WriteFile(bin, []byte(fakeDemoBackends), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PORT=41234")
	port, p := StartDemoBackends(t, bin, env, []string{"127.0.0.1", "127.0.0.2"}, []string{"one", "two"})
	if p.Exited() {
		t.Fatalf("demo-backends exited: %v\n%s", p.Err(), p.Out.String())
	}
	if port != 41234 {
		t.Errorf("port %d, want the ready file's 41234", port)
	}
}

// TestStartDemoBackendsRefuses runs the helper below in a subprocess: a
// ready file whose backends are not all on one port fails the test.
func TestStartDemoBackendsRefuses(t *testing.T) {
	if os.Getenv("PROCTEST_HELPER") == "demo-ports" {
		bin := filepath.Join(t.TempDir(), "meridian")
		script := strings.Replace(fakeDemoBackends, `${addr%:0}:$PORT`, `${addr%:0}:$PORT${a#*=}`, 1)
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		StartDemoBackends(t, bin, append(os.Environ(), "PORT=4123"), []string{"127.0.0.1", "127.0.0.2"}, []string{"1", "2"})
		t.Log("StartDemoBackends returned")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartDemoBackendsRefuses$", "-test.v")
	cmd.Env = append(os.Environ(), "PROCTEST_HELPER=demo-ports")
	out, err := Run(30*time.Second, cmd)
	if err == nil || !strings.Contains(out, "want one port") || strings.Contains(out, "returned") {
		t.Errorf("backends on ports 41231 and 41232: %v\n%s", err, out)
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
