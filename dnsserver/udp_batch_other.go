//go:build !linux

package dnsserver

import "net"

func newBatcher(c *net.UDPConn) (batcher, error) { return newXnetBatcher(c) }
