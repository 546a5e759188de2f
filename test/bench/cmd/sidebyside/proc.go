//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs are the processes this run started (servers, load generators);
// each is the leader of its own session, so the whole group goes with it.
var procs struct {
	sync.Mutex
	m map[int]string
}

func track(pid int, what string) {
	procs.Lock()
	defer procs.Unlock()
	if procs.m == nil {
		procs.m = map[int]string{}
	}
	procs.m[pid] = what
}

func untrack(pid int) {
	procs.Lock()
	defer procs.Unlock()
	delete(procs.m, pid)
}

// killGroup stops a process group led by pid: SIGTERM, then SIGKILL after
// grace.
func killGroup(pid int, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// cleanup kills everything still running that this run started.
func cleanup() {
	procs.Lock()
	pids := make([]int, 0, len(procs.m))
	for pid := range procs.m {
		pids = append(pids, pid)
	}
	procs.Unlock()
	for _, pid := range pids {
		killGroup(pid, 3*time.Second)
		untrack(pid)
	}
}

// spawn starts argv in a session of its own under nice and taskset, with
// stdout and stderr to logPath. The child gets SIGKILL if this process
// dies without cleaning up.
func spawn(h *harness, cpu int, argv []string, env []string, logPath string, stdout *bytes.Buffer) (*exec.Cmd, error) {
	full := append([]string{"nice", "-n", strconv.Itoa(h.nice), "taskset", "-c", strconv.Itoa(cpu)}, argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	var lf *os.File
	if logPath != "" {
		var err error
		if lf, err = os.Create(logPath); err != nil {
			return nil, err
		}
		cmd.Stderr = lf
		cmd.Stdout = lf
	}
	if stdout != nil {
		cmd.Stdout = stdout
	}
	err := cmd.Start()
	if lf != nil {
		lf.Close()
	}
	if err != nil {
		return nil, err
	}
	track(cmd.Process.Pid, strings.Join(argv, " "))
	return cmd, nil
}

// portFree reports whether 127.0.0.1:port can be bound over UDP and TCP.
func portFree(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	u.Close()
	t, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	t.Close()
	return nil
}

// ---- CPU accounting from /proc ----

var clkTck = 100.0 // USER_HZ; 100 on every Linux we run on

// procTicks is utime+stime of one process (all its threads).
func procTicks(pid int) (int64, int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// the command name may hold spaces: fields start after the last ')'
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); session is field 6, utime 14, stime 15
	if len(f) < 13 {
		return 0, 0, false
	}
	sid, _ := strconv.Atoi(f[3])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, sid, true
}

// sessionTicks is the CPU time of every process in the session led by sid.
func sessionTicks(sid int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum int64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if t, s, ok := procTicks(pid); ok && s == sid {
			sum += t
		}
	}
	return sum
}

// cpuBusy is the busy ticks of each CPU (user, nice, system, irq, softirq,
// steal), indexed by CPU number.
func cpuBusy() map[int]int64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[int]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 9 || !strings.HasPrefix(fs[0], "cpu") || fs[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(fs[0][3:])
		if err != nil {
			continue
		}
		var busy int64
		for _, k := range []int{1, 2, 3, 6, 7, 8} {
			v, _ := strconv.ParseInt(fs[k], 10, 64)
			busy += v
		}
		out[n] = busy
	}
	return out
}

// sample is a point of the CPU accounting.
type sample struct {
	at       time.Time
	srv, gen int64
	cpus     map[int]int64
}

func takeSample(serverSID, genPID int) sample {
	g, _, _ := procTicks(genPID)
	return sample{at: time.Now(), srv: sessionTicks(serverSID), gen: g, cpus: cpuBusy()}
}

// Shares are CPU use between two samples in % of one core: the server's
// session, the load generator, and everything else on the two CPUs
// (other tenants, kernel threads).
type Shares struct{ Srv, Gen, Foreign float64 }

func shares(a, b sample, cpus []int) Shares {
	ticks := b.at.Sub(a.at).Seconds() * clkTck
	if ticks <= 0 {
		return Shares{}
	}
	pct := func(d int64) float64 { return 100 * float64(d) / ticks }
	s := Shares{Srv: pct(b.srv - a.srv), Gen: pct(b.gen - a.gen)}
	var all int64
	for _, c := range cpus {
		all += b.cpus[c] - a.cpus[c]
	}
	s.Foreign = max(pct(all)-s.Srv-s.Gen, 0)
	return s
}

// loadNow is the busy share of all CPUs over d, in % of one core.
func loadNow(d time.Duration) float64 {
	a := cpuBusy()
	t := time.Now()
	time.Sleep(d)
	b := cpuBusy()
	var sum int64
	for c := range b {
		sum += b[c] - a[c]
	}
	return 100 * float64(sum) / (time.Since(t).Seconds() * clkTck)
}

func fmtPct(v float64) string { return fmt.Sprintf("%.0f", v) }
