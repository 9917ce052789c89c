package haproxy

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The files under testdata are replies of HAProxy 2.6.12 for a backend
// "inference" with four servers: stable ready, canary drained, old (IPv6)
// in maintenance, broken failing its health check.
func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\n")
}

func TestParseServersState(t *testing.T) {
	got, err := parseServersState(readTestdata(t, "servers-state.txt"), "inference")
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{
		{Name: "stable", Weight: 230, State: StateReady, Addr: "127.0.0.1:18081"},
		{Name: "canary", Weight: 26, State: StateDrain, Addr: "127.0.0.1:18082"},
		{Name: "old", Weight: 0, State: StateMaint, Addr: "[::1]:18083"},
		{Name: "broken", Weight: 1, State: StateReady, Addr: "127.0.0.1:1"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseServersState =\n%+v\nwant\n%+v", got, want)
	}
	if other, err := parseServersState(readTestdata(t, "servers-state.txt"), "other"); err != nil || len(other) != 0 {
		t.Errorf("backend other: %v, %v; want no servers", other, err)
	}
}

func TestParseStat(t *testing.T) {
	rows, algo, err := parseStat(readTestdata(t, "stat.csv"), "inference")
	if err != nil {
		t.Fatal(err)
	}
	if algo != "roundrobin" {
		t.Errorf("algo = %q, want roundrobin", algo)
	}
	want := map[string]statRow{
		"stable": {"no check", 0, 0}, "canary": {"DRAIN", 0, 0}, "old": {"MAINT", 0, 0}, "broken": {"DOWN", 0, 0},
	}
	if len(rows) != len(want) {
		t.Errorf("rows = %v, want %v", rows, want)
	}
	for name, w := range want {
		if rows[name] != w {
			t.Errorf("row %s = %+v, want %+v", name, rows[name], w)
		}
	}
}

// TestParseStatQuoted: a field with a comma or a quote is quoted, quotes
// doubled; a short record (another proxy's) and other proxies are skipped.
func TestParseStatQuoted(t *testing.T) {
	text := "# pxname,svname,scur,status,last_chk,\n" +
		"inference,a,3,UP,\"Layer7 wrong status, code: 503, info: \"\"Service Unavailable\"\"\",\n" +
		"inference,b,,DOWN 1/2,,\n" +
		"other,a,9,UP,,\n" +
		"short\n"
	rows, algo, err := parseStat(text, "inference")
	if err != nil {
		t.Fatal(err)
	}
	if algo != "" || len(rows) != 2 || rows["a"] != (statRow{"UP", 3, -1}) || rows["b"] != (statRow{"DOWN 1/2", 0, -1}) {
		t.Errorf("parseStat = %v, %q", rows, algo)
	}
}

func TestParseErrors(t *testing.T) {
	header := "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_port"
	for _, tc := range []struct{ name, state, stat string }{
		{name: "refusal", state: "Can't find backend.", stat: "No such proxy."},
		{name: "other version", state: "2\n" + header, stat: "pxname,svname"},
		{name: "no header", state: "1", stat: "# "},
		{name: "missing column", state: "1\n# be_name srv_name srv_addr srv_uweight", stat: "# pxname,svname,status"},
		{name: "short row", state: "1\n" + header + "\n3 inference 1 a 127.0.0.1 2 0", stat: "# pxname,svname,status,scur\ninference,a,UP,-1"},
		{name: "weight out of range", state: "1\n" + header + "\n3 inference 1 a 127.0.0.1 2 0 257 1 80", stat: "# pxname,svname,status,scur\ninference,a,UP,x"},
		{name: "admin not a number", state: "1\n" + header + "\n3 inference 1 a 127.0.0.1 2 x 1 1 80", stat: "# pxname,svname,status,scur\n\"inference,a,UP,1"},
		{name: "duplicate", state: "1\n" + header + "\n3 inference 1 a ::1 2 0 1 1 80\n3 inference 2 a ::1 2 0 1 1 81", stat: "# pxname,svname,status,scur\ninference,a,UP,1\ninference,a,UP,1"},
		{name: "bad quote", state: "1\n" + header + "\n3 inference 1 a ::1 2 0 1 1", stat: "# pxname,svname,status,scur\ninference,a\"b,UP,1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := parseServersState(tc.state, "inference"); err == nil {
				t.Errorf("parseServersState(%q) = %v, want an error", tc.state, s)
			}
			if rows, _, err := parseStat(tc.stat, "inference"); err == nil {
				t.Errorf("parseStat(%q) = %v, want an error", tc.stat, rows)
			}
		})
	}
}
