package dnsserver

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// Both batchers (x/net's, the portable one, and the raw-syscall one used
// on Linux) receive a burst of datagrams with their sources and send each
// reply back to its sender.
func TestBatchersEcho(t *testing.T) {
	for name, mk := range map[string]func(*net.UDPConn) (batcher, error){"xnet": newXnetBatcher, "default": newBatcher} {
		t.Run(name, func(t *testing.T) {
			srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			b, err := mk(srv)
			if err != nil {
				t.Fatal(err)
			}
			var clients []*net.UDPConn
			for i := range 5 {
				c, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				clients = append(clients, c)
				if _, err := fmt.Fprintf(c, "query %d", i); err != nil {
					t.Fatal(err)
				}
			}
			got := 0
			deadline := time.Now().Add(5 * time.Second)
			for got < len(clients) && time.Now().Before(deadline) {
				n, err := b.recv()
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					msg, src, ok := b.msg(i)
					if !ok || !src.Is4() || !bytes.HasPrefix(msg, []byte("query ")) {
						t.Fatalf("message %d: %q from %v ok=%v", i, msg, src, ok)
					}
					b.queue(i, append([]byte("reply to "), msg...))
				}
				if err := b.flush(); err != nil {
					t.Fatal(err)
				}
				got += n
			}
			for i, c := range clients {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != fmt.Sprintf("reply to query %d", i) {
					t.Fatalf("client %d: %q %v", i, buf[:n], err)
				}
			}
		})
	}
}
