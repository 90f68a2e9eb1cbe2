package sip

import (
	"fmt"
	"net"
	"net/netip"
)

// Trunk is a carrier trunk: INVITEs are taken only from its Allow
// prefixes, and mobile forwards go out to its Address.
type Trunk struct {
	Name    string
	Address string // host:port
	Allow   []netip.Prefix
}

// ParseTrunk reads a trunk's allow list ("127.0.0.1/32", "10.0.0.0/8", or a
// bare address for one host).
func ParseTrunk(name, address string, allow []string) (Trunk, error) {
	t := Trunk{Name: name, Address: address}
	for _, a := range allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return Trunk{}, fmt.Errorf("sip: trunk %s: allow %q: %w", name, a, err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		t.Allow = append(t.Allow, p.Masked())
	}
	return t, nil
}

// trunkFor returns the trunk whose allow list holds the source address
// (host:port), or nil: the INVITE is then refused with 403.
func trunkFor(trunks []Trunk, source string) *Trunk {
	ip := sourceIP(source)
	if !ip.IsValid() {
		return nil
	}
	for i := range trunks {
		for _, p := range trunks[i].Allow {
			if p.Contains(ip) {
				return &trunks[i]
			}
		}
	}
	return nil
}

// sourceIP is the address part of a host:port, unmapped from IPv4-in-IPv6.
func sourceIP(source string) netip.Addr {
	host, _, err := net.SplitHostPort(source)
	if err != nil {
		host = source
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
