package health

import (
	"context"
	"net"
)

// tcpProber connects and closes: the target is up when it completes the
// TCP handshake. The close is an orderly FIN, not a reset, so backends do
// not log errors; the TIME_WAIT that stays on the prober's side costs a
// few hundred bytes per probe for 60 s, about 60,000 sockets at 1,000
// targets probed every second, well within Linux defaults.
type tcpProber struct {
	addr   string
	dialer net.Dialer
}

func newTCPProber(t Target) *tcpProber {
	// No Dialer.Timeout: the Monitor's context carries the check's timeout.
	// KeepAlive -1: the connection lives for a moment, no keep-alive probes.
	return &tcpProber{addr: t.AddrPort().String(), dialer: net.Dialer{KeepAlive: -1}}
}

func (p *tcpProber) Probe(ctx context.Context) error {
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return failure(ctx, err)
	}
	c.Close()
	return nil
}
