package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gonogo-dev/gonogo/store"
)

const adminToken = "s3cret-admin-token"

// adminCall sends method path to the admin API with the Authorization
// header auth ("" sends none) and returns the status and body.
func adminCall(t *testing.T, base, method, path, auth string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// startAdmin serves f's admin API on loopback.
func startAdmin(t *testing.T, f *fixtureRollout) string {
	t.Helper()
	srv := httptest.NewServer(f.c.AdminHandler(adminToken))
	t.Cleanup(srv.Close)
	return srv.URL
}

// lastEvent is the rollout's last stored event.
func lastEvent(t *testing.T, db *store.DB) store.Event {
	t.Helper()
	evs, err := db.Events(context.Background(), "proxy-test", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		t.Fatal("no events stored")
	}
	return evs[len(evs)-1]
}

// An unauthenticated or wrong-token call is refused and logged, the token
// never.
func TestAdminRefusesWithoutToken(t *testing.T) {
	f := newFixtureRollout(t, fixtureOpts{})
	base := startAdmin(t, f)
	for _, tc := range []struct{ name, auth, why string }{
		{"no token", "", "no token"},
		{"wrong token", "Bearer wrong-token-0123", "wrong token"},
		{"token without Bearer", adminToken, "wrong token"},
		{"token with a suffix", "Bearer " + adminToken + "x", "wrong token"},
	} {
		for _, call := range [][2]string{{"GET", "/v1/status"}, {"POST", "/v1/abort"}, {"GET", "/v1/events"}} {
			code, body := adminCall(t, base, call[0], call[1], tc.auth)
			if code != http.StatusUnauthorized {
				t.Errorf("%s: %s %s: %d %s, want 401", tc.name, call[0], call[1], code, body)
			}
		}
		if !strings.Contains(f.log.String(), "refused GET /v1/status from 127.0.0.1:") || !strings.Contains(f.log.String(), tc.why) {
			t.Errorf("%s: not logged:\n%s", tc.name, f.log.String())
		}
	}
	log := f.log.String()
	if strings.Contains(log, adminToken) || strings.Contains(log, "wrong-token-0123") {
		t.Errorf("a token was logged:\n%s", log)
	}
	if n := strings.Count(log, "admin: refused"); n != 12 {
		t.Errorf("%d refusals logged, want 12:\n%s", n, log)
	}
	// The refused abort did nothing.
	if ph := f.c.Phase(); ph != PhaseProgressing {
		t.Errorf("phase after refused calls: %s", ph)
	}
	var ce *APIError
	_, err := (&Client{URL: base, Token: "nope"}).Status(context.Background())
	if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
		t.Errorf("client with a wrong token: %v, want a 401 APIError", err)
	}
}

// /metrics and /healthz need no token.
func TestAdminMetricsWithoutToken(t *testing.T) {
	f := newFixtureRollout(t, fixtureOpts{})
	base := startAdmin(t, f)
	code, body := adminCall(t, base, "GET", "/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`gonogo_rollout_weight_percent{backend="blue",rollout="proxy-test"} 100`,
		`gonogo_rollout_weight_percent{backend="green",rollout="proxy-test"} 0`,
		`gonogo_rollout_transitions_total{kind="start",rollout="proxy-test"} 1`,
		`gonogo_rollout_step{rollout="proxy-test"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := adminCall(t, base, "GET", "/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	if strings.Contains(f.log.String(), "refused") {
		t.Errorf("an open endpoint was refused:\n%s", f.log.String())
	}
}

// The commands with the right token: each changes the phase, answers the
// status after it, and is stored as an event by the admin actor first.
func TestAdminCommands(t *testing.T) {
	f := newFixtureRollout(t, fixtureOpts{})
	base := startAdmin(t, f)
	auth := "Bearer " + adminToken
	status := func(path string, wantCode int) Status {
		t.Helper()
		code, body := adminCall(t, base, "POST", path, auth)
		if code != wantCode {
			t.Fatalf("POST %s: %d %s, want %d", path, code, body, wantCode)
		}
		var st Status
		if code == http.StatusOK {
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("POST %s: %v: %s", path, err, body)
			}
		}
		return st
	}

	code, body := adminCall(t, base, "GET", "/v1/status", auth)
	var st Status
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil {
		t.Fatalf("GET /v1/status: %d %s", code, body)
	}
	if st.Rollout != "proxy-test" || st.Phase != PhaseProgressing || st.Steps != 2 || st.StepName != "setWeight 5%" ||
		st.Weights["blue"] != 100 || st.Weights["green"] != 0 {
		t.Errorf("status: %+v", st)
	}

	// Refusals that change nothing.
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/v1/set-weight", http.StatusBadRequest},
		{"/v1/set-weight?weight=abc", http.StatusBadRequest},
		{"/v1/set-weight?weight=101", http.StatusBadRequest},
		{"/v1/set-weight?weight=-1", http.StatusBadRequest},
		{"/v1/set-weight?weight=0.0001", http.StatusBadRequest},
		{"/v1/set-weight?weight=NaN", http.StatusBadRequest},
		{"/v1/frobnicate", http.StatusBadRequest},
		{"/v1/undo", http.StatusConflict},                 // not promoted
		{"/v1/set-weight?weight=20", http.StatusConflict}, // canary not warmed
	} {
		status(tc.path, tc.code)
	}
	if ev := lastEvent(t, f.db); ev.Kind != "start" {
		t.Errorf("a refused command stored %+v", ev)
	}

	st = status("/v1/pause?by=alice", http.StatusOK)
	if st.Phase != PhasePaused || !st.Paused {
		t.Errorf("after pause: %s paused=%v", st.Phase, st.Paused)
	}
	if ev := lastEvent(t, f.db); ev.Kind != "pause" || ev.Actor != "admin:alice" {
		t.Errorf("pause stored as %s by %s", ev.Kind, ev.Actor)
	}
	st = status("/v1/resume", http.StatusOK)
	if st.Phase != PhaseProgressing || st.Paused {
		t.Errorf("after resume: %s paused=%v", st.Phase, st.Paused)
	}
	if ev := lastEvent(t, f.db); ev.Kind != "resume" || ev.Actor != "admin" {
		t.Errorf("resume stored as %s by %s", ev.Kind, ev.Actor)
	}

	f.warm(t)
	st = status("/v1/set-weight?weight=20", http.StatusOK)
	if st.Weights["green"] != 20 || st.Weights["blue"] != 80 || st.Phase != PhasePaused {
		t.Errorf("after set-weight 20: %+v", st)
	}
	if ev := lastEvent(t, f.db); ev.Kind != "flip" || ev.Actor != "admin" || ev.Weights["green"] != 20_000 {
		t.Errorf("set-weight stored as %+v", ev)
	}
	if got := f.c.proxy.table.Load().split.Weight(0); got != 20_000 {
		t.Errorf("the proxy routes %d buckets to green, want 20000", got)
	}

	st = status("/v1/abort?reason=bad+canary", http.StatusOK)
	if st.Phase != PhaseAborted || st.Weights["green"] != 0 || st.Weights["blue"] != 100 {
		t.Errorf("after abort: %+v", st)
	}
	evs, err := f.db.Events(context.Background(), "proxy-test", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var abort *store.Event
	for i := range evs {
		if evs[i].Kind == "abort" {
			abort = &evs[i]
		}
	}
	if abort == nil || abort.Actor != "admin" || abort.Reason != "bad canary" {
		t.Errorf("abort stored as %+v", abort)
	}
	saved, err := f.db.Load(context.Background(), "proxy-test")
	if err != nil || saved.Phase != PhaseAborted {
		t.Errorf("stored state after abort: %+v, %v", saved, err)
	}
	if got := f.get(t, "X-Canary", "always"); got != "blue" {
		t.Errorf("after abort, X-Canary: always went to %s", got)
	}
	// An ended rollout takes no more commands.
	status("/v1/pause", http.StatusConflict)
	status("/v1/set-weight?weight=50", http.StatusConflict)

	// The audit log over the API.
	code, body = adminCall(t, base, "GET", "/v1/events", auth)
	var apiEvs []Event
	if code != http.StatusOK || json.Unmarshal(body, &apiEvs) != nil {
		t.Fatalf("GET /v1/events: %d %s", code, body)
	}
	kinds := []string{}
	for _, e := range apiEvs {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); !strings.HasPrefix(got, "start,pause,resume,warm,flip,abort") {
		t.Errorf("events over the API: %s", got)
	}
}

// Undo after a promotion rolls back; the client speaks the same API.
func TestAdminPromoteThenUndo(t *testing.T) {
	f := newFixtureRollout(t, fixtureOpts{})
	base := startAdmin(t, f)
	cl := &Client{URL: base, Token: adminToken}
	ctx := context.Background()
	f.warm(t)
	st, err := cl.Do(ctx, Command{Op: "promote", Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhasePromoted || st.Weights["green"] != 100 {
		t.Fatalf("after promote --full: %+v", st)
	}
	if got := f.get(t); got != "green" {
		t.Errorf("after promotion: %s, want green", got)
	}
	st, err = cl.Do(ctx, Command{Op: "undo", Reason: "regret"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseRolledBack || st.Weights["blue"] != 100 {
		t.Fatalf("after undo: %+v", st)
	}
	if got := f.get(t); got != "blue" {
		t.Errorf("after undo: %s, want blue", got)
	}
	_, err = cl.Do(ctx, Command{Op: "undo"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("a second undo: %v, want 409", err)
	}
}
