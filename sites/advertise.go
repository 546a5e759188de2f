package sites

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// advertiseWait bounds how long Start waits for ResolveAdvertise: long
// enough for a cloud to assign a new LoadBalancer address, short enough
// that a pod which cannot learn it restarts visibly (CrashLoopBackOff
// with the reason in its log) instead of hanging unready.
var advertiseWait = 90 * time.Second

// resolveAdvertise sets the advertised address from ResolveAdvertise.
// The address found is remembered beside the state file, so that a
// restart while the resolver's source is down (the pod's own Kubernetes
// API, say) still advertises it: the state file already keeps the site
// serving without the API (static stability), and gossip should too.
func (n *Node) resolveAdvertise() error {
	if n.cfg.ResolveAdvertise == nil {
		return nil
	}
	memo := ""
	if n.cfg.StateFile != "" {
		memo = n.cfg.StateFile + ".advertise"
	}
	ctx, cancel := context.WithTimeout(n.ctx, advertiseWait)
	defer cancel()
	addr, port, err := n.cfg.ResolveAdvertise(ctx)
	if err == nil && net.ParseIP(addr) == nil {
		err = fmt.Errorf("%q is not an IP address", addr)
	}
	if err == nil {
		n.cfg.AdvertiseAddr, n.cfg.AdvertisePort = addr, port
		if memo != "" {
			hp := net.JoinHostPort(addr, strconv.Itoa(port))
			if werr := WriteFileAtomic(memo, []byte(hp+"\n"), 0o644); werr != nil {
				n.log.Warn("advertise address not remembered", "file", memo, "error", werr)
			}
		}
		return nil
	}
	if memo != "" {
		if b, rerr := os.ReadFile(memo); rerr == nil {
			host, p, serr := net.SplitHostPort(strings.TrimSpace(string(b)))
			port, perr := strconv.Atoi(p)
			if serr == nil && perr == nil && net.ParseIP(host) != nil {
				n.log.Warn("advertise address not resolved; using the one remembered", "addr", net.JoinHostPort(host, p), "file", memo, "error", err)
				n.cfg.AdvertiseAddr, n.cfg.AdvertisePort = host, port
				return nil
			}
		}
	}
	return fmt.Errorf("sites: advertise address: %w", err)
}
