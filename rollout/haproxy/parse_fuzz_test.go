package haproxy

import (
	"encoding/csv"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
)

// formatServersState writes servers as HAProxy 2.6 does for
// "show servers state <backend>", the columns parseServersState reads.
func formatServersState(backend string, servers []Server) string {
	var b strings.Builder
	b.WriteString("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_port\n")
	for i, s := range servers {
		host, port, err := net.SplitHostPort(s.Addr)
		if err != nil {
			host, port = s.Addr, "0"
		}
		admin := map[string]int{StateReady: 0, StateDrain: 0x08, StateMaint: 0x01}[s.State]
		fmt.Fprintf(&b, "3 %s %d %s %s 2 %d %d 1 %s\n", backend, i+1, s.Name, host, admin, s.Weight, port)
	}
	return b.String()
}

// formatStat writes rows as "show stat" CSV with a BACKEND line.
func formatStat(backend, algo string, rows map[string]statRow) string {
	var b strings.Builder
	b.WriteString("# ")
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"pxname", "svname", "scur", "status", "algo", "req_tot", ""})
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		req := ""
		if r := rows[name].requests; r >= 0 {
			req = fmt.Sprint(r)
		}
		_ = w.Write([]string{backend, name, fmt.Sprint(rows[name].sessions), rows[name].status, "", req, ""})
	}
	_ = w.Write([]string{backend, "BACKEND", "0", "UP", algo, "", ""})
	w.Flush()
	return b.String()
}

// FuzzParseServers feeds both runtime API parsers arbitrary replies: they
// must not panic, what they accept must be well formed, and writing it
// back out and reading it again must give the same servers.
func FuzzParseServers(f *testing.F) {
	f.Add(readTestdata(f, "servers-state.txt"), readTestdata(f, "stat.csv"))
	header := "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_port"
	f.Add("1\n"+header+"\n3 inference 1 a ::1 2 40 256 1 0\n# comment\n\n3 other 1 a x 0 0 0 0 0", "# pxname,svname,scur,status\ninference,\"a,\"\"b\"\"\",7,UP\r\n")
	f.Add("Can't find backend.", "No such proxy.")
	f.Add("1\n# srv_name be_name srv_uweight srv_admin_state srv_addr\na inference 3 8 h", "# status,scur,svname,pxname\nUP,,x,inference\n")
	f.Add("1\n"+header+"\n3 inference 1 a 1 2 -1 999 1 80", "# pxname,svname,scur,status\ninference,a,-5,UP\ninference,a\"b,1,UP")
	f.Fuzz(func(t *testing.T, state, stat string) {
		const backend = "inference"
		servers, err := parseServersState(state, backend)
		if err == nil {
			seen := map[string]bool{}
			for _, s := range servers {
				switch {
				case s.Name == "" || strings.ContainsAny(s.Name, " \t\n"):
					t.Fatalf("server name %q", s.Name)
				case seen[s.Name]:
					t.Fatalf("server %q twice", s.Name)
				case s.Weight < 0 || s.Weight > MaxWeight:
					t.Fatalf("server %q weight %d", s.Name, s.Weight)
				case s.State != StateReady && s.State != StateDrain && s.State != StateMaint:
					t.Fatalf("server %q state %q", s.Name, s.State)
				}
				seen[s.Name] = true
			}
			// An address with an empty host or port does not survive
			// being written out as columns: only well-formed ones
			// round-trip.
			for _, s := range servers {
				if h, p, ok := strings.Cut(s.Addr, ":"); ok && (h == "" || p == "") {
					return
				}
			}
			again, err := parseServersState(formatServersState(backend, servers), backend)
			if err != nil {
				t.Fatalf("re-reading %+v: %v", servers, err)
			}
			if len(again) != len(servers) {
				t.Fatalf("re-read %+v as %+v", servers, again)
			}
			for i := range servers {
				a, b := servers[i], again[i]
				if a.Name != b.Name || a.Weight != b.Weight || a.State != b.State {
					t.Fatalf("re-read %+v as %+v", a, b)
				}
			}
			// An address survives from the second reading on.
			third, err := parseServersState(formatServersState(backend, again), backend)
			if err != nil || !slices.Equal(third, again) {
				t.Fatalf("re-read %+v as %+v (%v)", again, third, err)
			}
		}
		rows, algo, err := parseStat(stat, backend)
		if err != nil {
			return
		}
		for name, r := range rows {
			if r.sessions < 0 || r.requests < -1 || name == "BACKEND" || name == "FRONTEND" {
				t.Fatalf("row %q: %+v", name, r)
			}
		}
		again, algo2, err := parseStat(formatStat(backend, algo, rows), backend)
		if err != nil || !maps.Equal(again, rows) || algo2 != algo {
			t.Fatalf("re-read %v %q as %v %q (%v)", rows, algo, again, algo2, err)
		}
	})
}
