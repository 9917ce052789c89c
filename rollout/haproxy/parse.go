package haproxy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// Administrative states of a server, as Server.State reports them and
// the runtime API's "set server … state" takes them.
const (
	StateReady = "ready" // in load balancing
	StateDrain = "drain" // out of load balancing; in-flight and persistent sessions go on
	StateMaint = "maint" // no traffic and no health checks
)

// Bits of srv_admin_state in "show servers state" (HAProxy's management
// guide, format 1): forced, inherited, configured and DNS-resolution
// maintenance, and forced or inherited drain.
const (
	adminMaint = 0x01 | 0x02 | 0x04 | 0x20
	adminDrain = 0x08 | 0x10
)

// parseServersState reads the reply to "show servers state <backend>"
// (format version 1): a version line, a "# " header naming the columns,
// then one line of space-separated values per server. Rows of other
// backends are left out. Columns are found by name, so an HAProxy that
// adds columns still parses.
func parseServersState(text, backend string) ([]Server, error) {
	lines := strings.Split(text, "\n")
	if strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("show servers state: want format version 1, got %q", firstLine(text))
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "#") {
		return nil, errors.New("show servers state: no header line")
	}
	col := columns(strings.Fields(lines[1][1:]))
	be, name, addr, admin, weight := col["be_name"], col["srv_name"], col["srv_addr"], col["srv_admin_state"], col["srv_uweight"]
	port, hasPort := col["srv_port"]
	for _, c := range []string{"be_name", "srv_name", "srv_addr", "srv_admin_state", "srv_uweight"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("show servers state: no column %s", c)
		}
	}
	need := max(be, name, addr, admin, weight, port) + 1
	var out []Server
	seen := map[string]bool{}
	for i, line := range lines[2:] {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < need {
			return nil, fmt.Errorf("show servers state: line %d: %d columns, want %d", i+3, len(f), need)
		}
		if f[be] != backend {
			continue
		}
		s := Server{Name: f[name], Addr: f[addr]}
		if seen[s.Name] {
			return nil, fmt.Errorf("show servers state: line %d: server %q twice", i+3, s.Name)
		}
		seen[s.Name] = true
		mask, err := strconv.ParseUint(f[admin], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("show servers state: line %d: srv_admin_state %q: not a number", i+3, f[admin])
		}
		switch {
		case mask&adminMaint != 0:
			s.State = StateMaint
		case mask&adminDrain != 0:
			s.State = StateDrain
		default:
			s.State = StateReady
		}
		if s.Weight, err = strconv.Atoi(f[weight]); err != nil || s.Weight < 0 || s.Weight > MaxWeight {
			return nil, fmt.Errorf("show servers state: line %d: srv_uweight %q: want 0..%d", i+3, f[weight], MaxWeight)
		}
		if hasPort && f[port] != "0" && f[port] != "-" {
			s.Addr = net.JoinHostPort(s.Addr, f[port])
		}
		out = append(out, s)
	}
	return out, nil
}

// statRow is what Servers takes from one server's line of "show stat".
type statRow struct {
	status   string
	sessions int64
	// requests is req_tot, the HTTP requests sent to the server since
	// HAProxy started; -1 when the reply has no such column or value.
	requests int64
}

// parseStat reads the CSV reply to "show stat <backend> …": a header line
// "# pxname,svname,…" then one CSV record per proxy or server, a field
// quoted only when it holds a comma or a quote. It returns the backend's
// servers by name and the backend's balance algorithm ("" when the reply
// has no BACKEND line). Rows of other proxies are left out; columns are
// found by name.
func parseStat(text, backend string) (map[string]statRow, string, error) {
	if !strings.HasPrefix(text, "# ") {
		return nil, "", fmt.Errorf("show stat: want a CSV header, got %q", firstLine(text))
	}
	r := csv.NewReader(strings.NewReader(text[2:]))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, "", fmt.Errorf("show stat: header: %w", err)
	}
	col := columns(header)
	px, sv, status, scur := col["pxname"], col["svname"], col["status"], col["scur"]
	for _, c := range []string{"pxname", "svname", "status", "scur"} {
		if _, ok := col[c]; !ok {
			return nil, "", fmt.Errorf("show stat: no column %s", c)
		}
	}
	algo, hasAlgo := col["algo"]
	reqTot, hasReqTot := col["req_tot"]
	need := max(px, sv, status, scur) + 1
	rows := map[string]statRow{}
	var backendAlgo string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("show stat: %w", err)
		}
		if len(rec) < need || rec[px] != backend {
			continue
		}
		switch rec[sv] {
		case "FRONTEND":
			continue
		case "BACKEND":
			if hasAlgo && algo < len(rec) {
				backendAlgo = rec[algo]
			}
			continue
		}
		if _, dup := rows[rec[sv]]; dup {
			return nil, "", fmt.Errorf("show stat: server %q twice", rec[sv])
		}
		row := statRow{status: rec[status], requests: -1}
		if rec[scur] != "" {
			if row.sessions, err = strconv.ParseInt(rec[scur], 10, 64); err != nil || row.sessions < 0 {
				return nil, "", fmt.Errorf("show stat: server %q: scur %q: not a count", rec[sv], rec[scur])
			}
		}
		if hasReqTot && reqTot < len(rec) && rec[reqTot] != "" {
			if row.requests, err = strconv.ParseInt(rec[reqTot], 10, 64); err != nil || row.requests < 0 {
				return nil, "", fmt.Errorf("show stat: server %q: req_tot %q: not a count", rec[sv], rec[reqTot])
			}
		}
		rows[rec[sv]] = row
	}
	return rows, backendAlgo, nil
}

// columns indexes header names; the first of a repeated name wins.
func columns(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for i, n := range names {
		if _, ok := m[n]; !ok {
			m[n] = i
		}
	}
	return m
}

// firstLine is the first line of s, cut to 120 bytes, for messages.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
