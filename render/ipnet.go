package render

import (
	"net"
	"strconv"
	"strings"
)

// Addresses are written in every file in the family's own form: the
// schema holds them to one family per deployment's sites and to the
// canonical text form. These helpers write an address where a format
// needs more than the address itself.

// isIPv6 reports whether addr is an IPv6 address.
func isIPv6(addr string) bool { return strings.Contains(addr, ":") }

// hostCIDR is the network of one host: /32, or /128 for IPv6.
func hostCIDR(addr string) string {
	if isIPv6(addr) {
		return addr + "/128"
	}
	return addr + "/32"
}

// urlHost is addr as the host of a URL: IPv6 in brackets.
func urlHost(addr string) string {
	if isIPv6(addr) {
		return "[" + addr + "]"
	}
	return addr
}

// hostPort is addr:port, IPv6 in brackets (HAProxy, URLs).
func hostPort(addr string, port int) string { return net.JoinHostPort(addr, strconv.Itoa(port)) }
