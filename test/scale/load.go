package scale

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions shape an open-loop DNS load: queries are sent at a fixed
// rate whatever the answers do, so a pause of the server shows as
// latency (and, past Timeout, as lost queries) rather than as a slower
// sender (coordinated omission).
type LoadOptions struct {
	Server  string        // host:port, UDP
	Names   []string      // queried in turn, type A
	Queries int           // total to send
	Rate    int           // queries per second
	Sockets int           // UDP sockets (source ports); default 4
	Timeout time.Duration // a query unanswered after this is lost; default 2s
}

// LoadResult is the outcome of a load run.
type LoadResult struct {
	Sent, Answered, Lost int
	// Errors counts answers with an rcode other than NOERROR or no
	// answer record: a GSLB name that stops answering during a reload.
	Errors int
	// Latencies are the answered queries' latencies, sorted.
	Latencies []time.Duration
	Took      time.Duration
}

// Quantile returns the q-quantile (0..1) of the latencies.
func (r LoadResult) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := min(int(q*float64(len(r.Latencies))), len(r.Latencies)-1)
	return r.Latencies[i]
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d sent, %d answered, %d lost, %d errors in %v: p50 %v p99 %v p99.9 %v max %v",
		r.Sent, r.Answered, r.Lost, r.Errors, r.Took.Round(time.Millisecond),
		r.Quantile(0.5), r.Quantile(0.99), r.Quantile(0.999), r.Quantile(1))
}

// Load runs o against its server and returns when every query is
// answered or timed out (or ctx ends).
func Load(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if o.Sockets <= 0 {
		o.Sockets = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Rate <= 0 || o.Queries <= 0 || len(o.Names) == 0 {
		return LoadResult{}, fmt.Errorf("scale: load needs Rate, Queries and Names")
	}
	queries := make([][]byte, len(o.Names))
	for i, n := range o.Names {
		queries[i] = Query(n, 1)
	}
	socks := make([]*loadSocket, o.Sockets)
	for i := range socks {
		c, err := net.Dial("udp", o.Server)
		if err != nil {
			return LoadResult{}, err
		}
		defer c.Close()
		uc := c.(*net.UDPConn)
		// A stall of this process must not drop answers in the kernel
		// and count them as the server's losses.
		_ = uc.SetReadBuffer(4 << 20)
		socks[i] = &loadSocket{conn: uc}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() { defer wg.Done(); s.receive(start, o.Timeout) }()
	}
	// Send in 1 ms ticks: tick k has sent k*Rate/1000 queries in all.
	sent := 0
	buf := make([]byte, 0, 512)
	for tick := 1; sent < o.Queries && ctx.Err() == nil; tick++ {
		due := min(o.Queries, tick*o.Rate/1000)
		for ; sent < due; sent++ {
			s := socks[sent%len(socks)]
			id := uint16(sent / len(socks))
			buf = append(buf[:0], queries[sent%len(queries)]...)
			SetID(buf, id)
			s.sentAt[id].Store(int64(time.Since(start)))
			if _, err := s.conn.Write(buf); err != nil {
				s.sendErrs.Add(1)
			}
		}
		if d := time.Until(start.Add(time.Duration(tick) * time.Millisecond)); d > 0 {
			time.Sleep(d)
		}
	}
	// Wait for the last answers, then stop the readers.
	time.Sleep(o.Timeout)
	for _, s := range socks {
		_ = s.conn.SetReadDeadline(time.Now())
	}
	wg.Wait()
	r := LoadResult{Sent: sent, Took: time.Since(start) - o.Timeout}
	for _, s := range socks {
		r.Answered += s.answered
		r.Errors += s.errors
		r.Latencies = append(r.Latencies, s.lat...)
	}
	r.Lost = r.Sent - r.Answered
	slices.Sort(r.Latencies)
	return r, ctx.Err()
}

// loadSocket is one source port. Query IDs are the query's sequence
// number on the socket, mod 2^16: at the rates used (<= 100k/s over 4
// sockets) an ID is reused after 2.6 s, longer than the timeout.
type loadSocket struct {
	conn     *net.UDPConn
	sentAt   [1 << 16]atomic.Int64 // ns since start; 0: nothing outstanding
	sendErrs atomic.Int64
	// Read by Load after receive returns.
	answered, errors int
	lat              []time.Duration
}

func (s *loadSocket) receive(start time.Time, timeout time.Duration) {
	buf := make([]byte, 4096)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				return
			}
			continue // ICMP refusals while the server restarts
		}
		now := int64(time.Since(start))
		r, err := ParseResponse(buf[:n])
		if err != nil {
			s.errors++
			continue
		}
		at := s.sentAt[r.ID].Swap(0)
		if at == 0 {
			continue // a duplicate or a late answer
		}
		if time.Duration(now-at) > timeout {
			continue // too late: counted as lost
		}
		s.answered++
		s.lat = append(s.lat, time.Duration(now-at))
		if r.Rcode != 0 || r.Answers == 0 {
			s.errors++
		}
	}
}
