package netguard

import "net/netip"

// nonPublic lists the networks webhooks stay out of unless allowed, most
// specific first: what the task of a webhook never needs and an attacker
// would aim at (the host itself, the private network around it, cloud
// metadata at 169.254.169.254 or fd00:ec2::254, multicast).
var nonPublic = []struct {
	net  netip.Prefix
	kind string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"}, // "this network"; 0.0.0.0 reaches the host itself
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "private"}, // shared address space (carrier-grade NAT, some clouds' metadata)
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"}, // benchmarking
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // with 255.255.255.255, broadcast
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "reserved"},         // IPv4-compatible, deprecated
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private"}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), "reserved"},      // discard-only
	{netip.MustParsePrefix("fc00::/7"), "private"},       // unique local
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "private"}, // site-local, deprecated
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Kind says what kind of non-public address a is ("loopback", "private",
// "link-local", "multicast", "unspecified", "reserved"), or "" for a public
// one. An IPv4 address written in IPv6 (mapped ::ffff:a.b.c.d, NAT64
// 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd::) is judged by the IPv4 address it
// reaches.
func Kind(a netip.Addr) string {
	a = a.WithZone("")
	if !a.IsValid() {
		return "unspecified"
	}
	if v4, ok := embeddedIPv4(a); ok {
		a = v4
	}
	for _, n := range nonPublic {
		if n.net.Contains(a) {
			return n.kind
		}
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address an IPv6 address stands for, if any.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if a.Is4In6() {
		return a.Unmap(), true
	}
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
