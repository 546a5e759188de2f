//go:build linux

// Command qload is the side-by-side harness's UDP DNS load generator.
//
//	qload -s 127.0.0.1:5307 -f w2.q -d 10s              # closed loop: as many qps as the server takes
//	qload -s 127.0.0.1:5307 -f w2.q -d 10s -rate 80000  # open loop: a fixed rate, latency percentiles
//
// It reads a query file of length-prefixed wire messages (dnsperf -B
// format; the IDs are rewritten) and cycles through it. One thread runs an
// event loop over -c connected sockets with sendmmsg/recvmmsg batches of up
// to -b datagrams:
//
//   - closed loop (no -rate): each socket keeps -w/-c queries outstanding,
//     sending one as soon as one is answered or times out (-t). The qps is
//     the answers received during the run, divided by its length.
//   - fixed rate (-rate N): queries leave on a schedule of N per second
//     whatever the server does (those due within one -tick, 40 us, leave
//     in one batch; if the generator falls behind it catches up in batches
//     and reports by how much), and every answer's latency goes into
//     a histogram: p50, p90, p99, p99.9, max. A query not answered within -t
//     counts as lost, and the percentiles count lost queries as slower than
//     any answer.
//
// Latency is the kernel's receive timestamp (SO_TIMESTAMPNS) minus the
// time just before the sendmmsg that carried the query, so time the
// generator spends before it reads an answer does not count.
//
// Output: a readable summary, or with -json one JSON object (what the
// sidebyside harness parses).
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meridian-gslb/meridian/test/bench/internal/dnsq"
)

func main() {
	var (
		server  = flag.String("s", "127.0.0.1:53", "server `address:port`")
		file    = flag.String("f", "", "query `file` (length-prefixed wire messages, as dnsperf -B reads)")
		dur     = flag.Duration("d", 10*time.Second, "run time")
		nsock   = flag.Int("c", 4, "sockets (source ports)")
		window  = flag.Int("w", 200, "closed loop: queries outstanding in total, spread over the sockets")
		rate    = flag.Float64("rate", 0, "fixed rate in queries per second (0: closed loop, as fast as the server answers)")
		batch   = flag.Int("b", 32, "datagrams per sendmmsg/recvmmsg call")
		timeout = flag.Duration("t", 2*time.Second, "a query unanswered this long is lost")
		asJSON  = flag.Bool("json", false, "print one JSON object")
		tick    = flag.Duration("tick", 40*time.Microsecond, "fixed rate: shortest sleep between sends (queries due meanwhile leave in one batch)")
	)
	flag.Parse()
	if *file == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: qload -s ADDR:PORT -f FILE [-d DUR] [-rate QPS] [-c SOCKETS] [-w WINDOW] [-json]")
		os.Exit(2)
	}
	ap, err := netip.ParseAddrPort(*server)
	if err != nil {
		fatal("-s: %v", err)
	}
	qs, err := dnsq.ReadFile(*file)
	if err != nil {
		fatal("%v", err)
	}
	if *nsock < 1 || *batch < 1 || *window < *nsock {
		fatal("need -c >= 1, -b >= 1, -w >= -c")
	}
	g := &gen{qs: qs, batch: *batch, timeout: int64(*timeout), tick: int64(*tick)}
	for range *nsock {
		fd, err := dial(ap)
		if err != nil {
			fatal("%v", err)
		}
		g.socks = append(g.socks, newSock(fd, *batch))
	}
	runtime.LockOSThread()
	lowTimerSlack()
	drops0 := rcvbufErrors()
	var res *Result
	if *rate > 0 {
		res = g.runRate(*rate, *dur)
	} else {
		res = g.runClosed(*window, *dur)
	}
	for _, s := range g.socks {
		closeFd(s.fd)
	}
	res.KernelDrops = rcvbufErrors() - drops0
	res.Server = *server
	res.File = *file
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
		return
	}
	res.print()
}

func fatal(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "qload: "+f+"\n", a...)
	os.Exit(1)
}

// Result is what a run measured.
type Result struct {
	Server, File  string
	Mode          string  // "closed" or "rate"
	TargetRate    float64 `json:",omitempty"`
	Seconds       float64 // length of the sending period
	Sent          int64
	Answered      int64 // answers to queries of this run, within -t
	Lost          int64 // unanswered within -t (or never)
	Late          int64 // closed loop: answers that came after the run's end (not in QPS)
	Stray         int64 // replies matching no outstanding query (after a timeout, duplicated)
	KernelDrops   int64 // UDP datagrams the kernel dropped on full receive buffers during the run, system-wide (/proc/net/snmp RcvbufErrors)
	Refused       int64 // ICMP port unreachable reported on a socket
	QPS           float64
	SendRate      float64 // queries sent per second
	Rcodes        map[string]int64
	Truncated     int64
	LatencyMs     Latency
	PacingLateP99 float64 `json:",omitempty"` // rate mode: how late the sends left, p99, ms
	MaxBacklog    int64   `json:",omitempty"` // rate mode: most queries behind schedule at one time
}

// Latency summarises answer times in milliseconds; with lost queries the
// percentiles that fall on them are +Inf (shown as "lost").
type Latency struct {
	Avg, P50, P90, P99, P999, Max float64
}

func (r *Result) print() {
	fmt.Printf("server %s, %s, %s mode", r.Server, r.File, r.Mode)
	if r.Mode == "rate" {
		fmt.Printf(" at %.0f qps", r.TargetRate)
	}
	fmt.Printf(", %.2f s\n", r.Seconds)
	fmt.Printf("  sent %d (%.0f/s), answered %d, lost %d, late %d, stray %d, refused %d, truncated %d\n", r.Sent, r.SendRate, r.Answered, r.Lost, r.Late, r.Stray, r.Refused, r.Truncated)
	fmt.Printf("  kernel receive-buffer drops during the run (all UDP sockets): %d\n", r.KernelDrops)
	fmt.Printf("  qps %.0f   rcodes %v\n", r.QPS, r.Rcodes)
	l := r.LatencyMs
	fmt.Printf("  latency ms: avg %.3f  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", l.Avg, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max))
	if r.Mode == "rate" {
		fmt.Printf("  pacing: p99 send lateness %.3f ms, largest backlog %d queries\n", r.PacingLateP99, r.MaxBacklog)
	}
}

func ms(v float64) string {
	if v < 0 {
		return "lost"
	}
	return fmt.Sprintf("%.3f", v)
}

// sock is one connected socket and its datagram arrays.
type sock struct {
	fd   int
	out  *vec
	in   *vec
	lens []int
	// rate mode: send time (Unix ns) per query ID, 0 when not outstanding
	sentAt []int64
	nextID uint16
	// closed loop: slots of outstanding queries (see runClosed)
	slots []slot
	free  []int
}

type slot struct {
	at  int64 // send time, 0 when free
	id  uint16
	gen uint16
}

func newSock(fd, batch int) *sock {
	return &sock{fd: fd, out: newVec(batch, 512, false), in: newVec(batch, 4096, true), lens: make([]int, 0, batch)}
}

// gen is the generator's state; one thread runs it.
type gen struct {
	qs      [][]byte
	next    int
	batch   int
	timeout int64
	tick    int64
	socks   []*sock
	lat     hist
	res     Result
	rcodes  [16]int64
	pfds    []unix.PollFd
}

// load copies the next query into buf with the given ID and returns its length.
func (g *gen) load(buf []byte, id uint16) int {
	q := g.qs[g.next]
	g.next++
	if g.next == len(g.qs) {
		g.next = 0
	}
	n := copy(buf, q)
	binary.BigEndian.PutUint16(buf, id)
	return n
}

// reply accounts for one received datagram; at is its receive time.
func (g *gen) reply(b []byte, at int64, sentAt int64) {
	lat := at - sentAt
	if lat > g.timeout {
		g.res.Lost++
		return
	}
	if lat < 0 {
		lat = 0
	}
	g.res.Answered++
	g.lat.add(lat)
	g.rcodes[b[3]&0x0f]++
	if b[2]&0x02 != 0 {
		g.res.Truncated++
	}
}

func (g *gen) pollSet() []unix.PollFd {
	if g.pfds == nil {
		for _, s := range g.socks {
			g.pfds = append(g.pfds, unix.PollFd{Fd: int32(s.fd)})
		}
	}
	return g.pfds
}

// drain reads every socket until nothing is queued, calling match for
// each datagram with its receive time.
func (g *gen) drain(match func(s *sock, b []byte, at int64)) (got int) {
	for _, s := range g.socks {
		for {
			n, err := s.in.recv(s.fd)
			if err != nil {
				if isRefused(err) {
					g.res.Refused++
					continue
				}
				fatal("recvmmsg: %v", err)
			}
			if n == 0 {
				break
			}
			now := time.Now().UnixNano()
			for i := range n {
				b := s.in.datagram(i)
				if len(b) < 12 || b[2]&0x80 == 0 { // not a response
					g.res.Stray++
					continue
				}
				at := s.in.stamp(i)
				if at == 0 {
					at = now
				}
				match(s, b, at)
			}
			got += n
			if n < len(s.in.hdrs) {
				break
			}
		}
	}
	return got
}

// runClosed keeps window queries outstanding for d.
//
// Each socket has window/c slots; a query's ID is its slot number in the
// low bits and the slot's use count in the high bits, so a reply finds its
// slot at once and a reply to an earlier use (after a timeout) is stray.
func (g *gen) runClosed(window int, d time.Duration) *Result {
	per := window / len(g.socks)
	slotBits := bits.Len(uint(per - 1))
	if per == 1 {
		slotBits = 0
	}
	if slotBits > 12 {
		fatal("-w: at most %d outstanding queries per socket", 1<<12)
	}
	mask := uint16(1)<<slotBits - 1
	for _, s := range g.socks {
		s.slots = make([]slot, per)
		for i := per - 1; i >= 0; i-- {
			s.free = append(s.free, i)
		}
	}
	start := time.Now().UnixNano()
	end := start + int64(d)
	nextExpiry := start + int64(10*time.Millisecond)
	match := func(s *sock, b []byte, at int64) {
		id := binary.BigEndian.Uint16(b)
		k := int(id & mask)
		if k >= len(s.slots) || s.slots[k].at == 0 || s.slots[k].id != id {
			g.res.Stray++
			return
		}
		if at <= end {
			g.reply(b, at, s.slots[k].at)
		} else { // answered after the run: not part of its qps
			g.res.Late++
		}
		s.slots[k].at = 0
		s.free = append(s.free, k)
	}
	expire := func(now int64) {
		for _, s := range g.socks {
			for k := range s.slots {
				if at := s.slots[k].at; at != 0 && now-at > g.timeout {
					s.slots[k].at = 0
					s.free = append(s.free, k)
					g.res.Lost++
				}
			}
		}
	}
	for {
		now := time.Now().UnixNano()
		if now >= end {
			break
		}
		if now >= nextExpiry {
			expire(now)
			nextExpiry = now + int64(10*time.Millisecond)
		}
		for _, s := range g.socks {
			for len(s.free) > 0 {
				k := min(len(s.free), g.batch)
				s.lens = s.lens[:0]
				for i := range k {
					sl := &s.slots[s.free[len(s.free)-1-i]]
					sl.gen++
					id := sl.gen<<slotBits | uint16(s.free[len(s.free)-1-i])
					sl.id = id
					s.lens = append(s.lens, g.load(s.out.bufs[i], id))
				}
				t := time.Now().UnixNano()
				n, err := s.out.send(s.fd, s.lens)
				if err != nil {
					fatal("sendmmsg: %v", err)
				}
				for i := range n {
					s.slots[s.free[len(s.free)-1-i]].at = t
				}
				g.next -= k - n // the unsent ones go again next time
				if g.next < 0 {
					g.next += len(g.qs)
				}
				s.free = s.free[:len(s.free)-n]
				g.res.Sent += int64(n)
				if n < k {
					break
				}
			}
		}
		if g.drain(match) == 0 {
			if err := waitReadable(g.pollSet(), min(end, nextExpiry)-time.Now().UnixNano()); err != nil {
				fatal("ppoll: %v", err)
			}
		}
	}
	// collect what is still in flight, for the loss count only
	stop := end + g.timeout
	for {
		outstanding := 0
		for _, s := range g.socks {
			outstanding += len(s.slots) - len(s.free)
		}
		now := time.Now().UnixNano()
		if outstanding == 0 || now >= stop {
			g.res.Lost += int64(outstanding)
			break
		}
		if g.drain(match) == 0 {
			_ = waitReadable(g.pollSet(), min(stop-now, int64(10*time.Millisecond)))
		}
	}
	g.res.Mode = "closed"
	return g.finish(start, end)
}

// runRate sends rate queries per second for d.
func (g *gen) runRate(rate float64, d time.Duration) *Result {
	for _, s := range g.socks {
		s.sentAt = make([]int64, 1<<16)
	}
	var pace hist
	interval := 1e9 / rate
	start := time.Now().UnixNano()
	end := start + int64(d)
	total := int64(float64(d) / interval)
	var sent int64
	turn := 0
	match := func(s *sock, b []byte, at int64) {
		id := binary.BigEndian.Uint16(b)
		t := s.sentAt[id]
		if t == 0 {
			g.res.Stray++
			return
		}
		s.sentAt[id] = 0
		g.reply(b, at, t)
	}
	for sent < total {
		now := time.Now().UnixNano()
		due := min(int64(float64(now-start)/interval)+1, total)
		if backlog := due - sent; backlog > g.res.MaxBacklog {
			g.res.MaxBacklog = backlog
		}
		for sent < due {
			s := g.socks[turn]
			turn = (turn + 1) % len(g.socks)
			k := int(min(due-sent, int64(g.batch)))
			s.lens = s.lens[:0]
			for i := range k {
				s.lens = append(s.lens, g.load(s.out.bufs[i], s.nextID+uint16(i)))
			}
			t := time.Now().UnixNano()
			n, err := s.out.send(s.fd, s.lens)
			if err != nil {
				fatal("sendmmsg: %v", err)
			}
			for i := range n {
				id := s.nextID + uint16(i)
				if s.sentAt[id] != 0 { // the ID came round before its answer
					g.res.Lost++
				}
				s.sentAt[id] = t
				pace.add(max(t-(start+int64(float64(sent+int64(i))*interval)), 0))
			}
			s.nextID += uint16(n)
			g.next -= k - n
			if g.next < 0 {
				g.next += len(g.qs)
			}
			sent += int64(n)
			if n < k { // socket buffer full: read, then go on
				break
			}
		}
		g.res.Sent = sent
		g.drain(match)
		if sent < total {
			// sleep until the next query is due, but at least one tick:
			// waking for every query would cost qload a core at high
			// rates. Replies wait in the socket buffers meanwhile; their
			// kernel timestamps keep the latency exact.
			wake := start + int64(float64(sent)*interval)
			sleepNs(max(wake-time.Now().UnixNano(), g.tick))
		}
	}
	sendEnd := time.Now().UnixNano()
	stop := sendEnd + g.timeout
	for {
		outstanding := 0
		for _, s := range g.socks {
			for _, t := range s.sentAt {
				if t != 0 {
					outstanding++
				}
			}
		}
		now := time.Now().UnixNano()
		if outstanding == 0 || now >= stop {
			g.res.Lost += int64(outstanding)
			break
		}
		// poll for a while before counting again (the count scans 64k IDs per socket)
		for until := min(now+int64(50*time.Millisecond), stop); time.Now().UnixNano() < until; {
			if g.drain(match) == 0 {
				_ = waitReadable(g.pollSet(), until-time.Now().UnixNano())
			}
		}
	}
	g.res.Mode = "rate"
	g.res.TargetRate = rate
	g.res.PacingLateP99 = float64(pace.quantile(0.99)) / 1e6
	return g.finish(start, max(end, sendEnd))
}

func (g *gen) finish(start, end int64) *Result {
	r := &g.res
	r.Seconds = float64(end-start) / 1e9
	r.QPS = float64(r.Answered) / r.Seconds
	r.SendRate = float64(r.Sent) / r.Seconds
	r.Rcodes = map[string]int64{}
	names := []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}
	for i, n := range g.rcodes {
		if n == 0 {
			continue
		}
		name := fmt.Sprintf("RCODE%d", i)
		if i < len(names) {
			name = names[i]
		}
		r.Rcodes[name] = n
	}
	// lost queries are slower than every answer
	g.lat.lost = r.Lost
	q := func(p float64) float64 {
		v := g.lat.quantile(p)
		if v < 0 {
			return -1
		}
		return float64(v) / 1e6
	}
	r.LatencyMs = Latency{P50: q(0.5), P90: q(0.9), P99: q(0.99), P999: q(0.999), Max: float64(g.lat.max) / 1e6}
	if r.Lost > 0 {
		r.LatencyMs.Max = -1
	}
	if g.lat.n > 0 {
		r.LatencyMs.Avg = float64(g.lat.sum) / float64(g.lat.n) / 1e6
	}
	return r
}

// hist is a log-linear histogram of nanoseconds: exact below 128 ns,
// then 64 buckets per power of two (under 1.6% error).
type hist struct {
	b    [64 * 64]int64
	n    int64
	sum  int64
	max  int64
	lost int64 // counted above the largest bucket by quantile
}

func bucketOf(v int64) int {
	if v < 128 {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 7 // v>>e is in [64, 128)
	return 128 + (e-1)*64 + int(v>>e) - 64
}

// bucketMid is a value inside bucket i (its middle).
func bucketMid(i int) int64 {
	if i < 128 {
		return int64(i)
	}
	e := (i-128)/64 + 1
	m := int64((i-128)%64 + 64)
	return m<<e + int64(1)<<(e-1)
}

func (h *hist) add(v int64) {
	i := bucketOf(v)
	if i >= len(h.b) {
		i = len(h.b) - 1
	}
	h.b[i]++
	h.n++
	h.sum += v
	if v > h.max {
		h.max = v
	}
}

// quantile is the value at quantile p, -1 when it falls on a lost query.
func (h *hist) quantile(p float64) int64 {
	total := h.n + h.lost
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(p * float64(total)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		return -1
	}
	var c int64
	for i, n := range h.b {
		c += n
		if c >= rank {
			return min(bucketMid(i), h.max)
		}
	}
	return h.max
}

// rcvbufErrors is the kernel's count of UDP datagrams dropped because a
// socket's receive buffer was full (IPv4 and IPv6 together).
func rcvbufErrors() int64 {
	var total int64
	for _, f := range []string{"/proc/net/snmp", "/proc/net/snmp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if f == "/proc/net/snmp6" {
				if k, v, ok := strings.Cut(l, " "); ok && k == "Udp6RcvbufErrors" {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					total += n
				}
				continue
			}
			// "Udp: InDatagrams ... RcvbufErrors ..." then "Udp: 1 2 ..."
			if !strings.HasPrefix(l, "Udp: ") || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "Udp: ") {
				continue
			}
			names, vals := strings.Fields(l), strings.Fields(lines[i+1])
			for j, name := range names {
				if name == "RcvbufErrors" && j < len(vals) {
					n, _ := strconv.ParseInt(vals[j], 10, 64)
					total += n
				}
			}
			break
		}
	}
	return total
}
