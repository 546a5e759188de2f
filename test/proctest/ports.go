package proctest

import (
	"fmt"
	"net"
	"strconv"
)

// PortFreeOn returns a port that is free for TCP and UDP on every one of
// ips at the time of the call.
//
// Use it only for a program that cannot listen on port 0 and say where it
// bound: the port is released before the program binds it, so another
// process may take it meanwhile, and the caller must then choose again.
// Today that is unbound, meridian's gossip listener when its peers' configs
// name it (they need the address before it starts), and etcd and
// kube-apiserver (test/k8s/k8stest).
func PortFreeOn(ips ...string) (int, error) {
	if len(ips) == 0 {
		return 0, fmt.Errorf("PortFreeOn: no addresses")
	}
	for range 100 {
		first, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			return 0, fmt.Errorf("free port on %s: %w", ips[0], err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		ok := holdAll(ips, port, first)
		if ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free for TCP and UDP on all of %v", ips)
}

// holdAll binds port on every ip for TCP and UDP (first is ips[0]'s TCP
// listener, already bound), reports whether all succeeded, and releases
// everything.
func holdAll(ips []string, port int, first net.Listener) bool {
	closers := []interface{ Close() error }{first}
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for i, ip := range ips {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		if i > 0 {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			closers = append(closers, l)
		}
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u)
	}
	return true
}
