package chaos

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// CheckTarget refuses a target that is neither on loopback nor on one of
// this machine's Docker networks (a bridge interface docker0 or br-…):
// faults and load stay on this machine unless the user says otherwise
// (--allow-target). target is a URL or host:port; names other than
// localhost are refused, since what they resolve to can change.
func CheckTarget(target string) error {
	host := target
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return Inputf("target %q: give an IP address (127.0.0.1, a container's address) or localhost; pass --allow-target to reach other hosts", target)
	}
	if ip.IsLoopback() {
		return nil
	}
	for _, p := range dockerSubnets() {
		if p.Contains(ip.Unmap()) {
			return nil
		}
	}
	return Inputf("target %s is neither loopback nor on a local Docker network: pass --allow-target to send load and faults there", target)
}

// dockerSubnets returns the subnets of this machine's Docker bridges.
func dockerSubnets() []netip.Prefix {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, i := range ifs {
		if i.Name != "docker0" && !strings.HasPrefix(i.Name, "br-") {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, p.Masked())
			}
		}
	}
	return out
}

// CheckListen refuses a listen address that is not on loopback unless
// allowed: proxies and admin APIs listen on loopback by default.
func CheckListen(addr string, allow bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return Inputf("listen address %q: want host:port (127.0.0.1:9000)", addr)
	}
	if allow || host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil || !ip.IsLoopback() {
		return Inputf("listen address %s is not on loopback: pass --allow-remote to listen there", addr)
	}
	return nil
}
