package httpfault

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gonogo-dev/gonogo/chaos"
)

// The admin API, served by AdminHandler:
//
//	GET    /v1/faults             the faults and what they did ([]Status)
//	POST   /v1/faults             add a fault (a Fault as JSON) → 201 {"id": …}
//	DELETE /v1/faults/{id}        remove it → 204 (404 when it is not there)
//	POST   /v1/faults/{id}/renew  renew its lease → 204
//	GET    /healthz               200, without a token
//
// Every call but /healthz needs "Authorization: Bearer <token>"; one
// without it, or with another token, is answered 401 and logged (the
// token presented is never logged).
const (
	adminFaults = "/v1/faults"
)

// AdminHandler serves p's admin API, guarded by token (which must not be
// empty). Refused calls are logged to logw.
func AdminHandler(p *Proxy, token string, logw io.Writer) http.Handler {
	if logw == nil {
		logw = io.Discard
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET "+adminFaults, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, p.List())
	})
	mux.HandleFunc("POST "+adminFaults, func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		dec := json.NewDecoder(io.LimitReader(r.Body, 2*MaxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"not a fault: " + err.Error()})
			return
		}
		id, err := p.Add(f)
		var ce *ConflictError
		switch {
		case errors.As(err, &ce):
			writeJSON(w, http.StatusConflict, apiError{err.Error()})
		case err != nil:
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		default:
			writeJSON(w, http.StatusCreated, map[string]string{"id": id})
		}
	})
	mux.HandleFunc("DELETE "+adminFaults+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Remove(r.PathValue("id")); err != nil {
			writeJSON(w, http.StatusNotFound, apiError{err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+adminFaults+"/{id}/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Renew(r.PathValue("id")); err != nil {
			code := http.StatusBadRequest
			if errors.Is(err, ErrNoFault) {
				code = http.StatusNotFound
			}
			writeJSON(w, code, apiError{err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			got := []byte(r.Header.Get("Authorization"))
			if token == "" || subtle.ConstantTimeCompare(got, want) != 1 {
				why := "no token"
				if len(got) > 0 {
					why = "a wrong token"
				}
				fmt.Fprintf(logw, "%s admin: refused %s %s from %s: %s\n", time.Now().Format(time.RFC3339), r.Method, r.URL.Path, r.RemoteAddr, why)
				w.Header().Set("WWW-Authenticate", `Bearer realm="gonogo"`)
				writeJSON(w, http.StatusUnauthorized, apiError{"unauthorized: send Authorization: Bearer <token>"})
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ReadToken reads a bearer token from a file: its first line, trimmed.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", chaos.Inputf("token file: %v", err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", chaos.Inputf("token file %s is empty", path)
	}
	return tok, nil
}

// Admin drives a fault proxy of another process through its admin API:
// it is the chaos.Injector of an experiment's external proxy. Faults it
// adds carry Lease; the experiment renews them (Renew) while it runs, so
// a proxy whose experiment died drops them by itself.
type Admin struct {
	// URL is the admin API's base URL (http://127.0.0.1:9001).
	URL string
	// TokenFile holds the bearer token; the ledger records the file's
	// path, never the token.
	TokenFile string
	// Lease is the lease of every fault added (default
	// chaos.DefaultLeaseTTL).
	Lease time.Duration
	// Client is the HTTP client (default one with a 10 s timeout).
	Client *http.Client

	ids []string // faults added, for Renew
}

var _ chaos.Injector = (*Admin)(nil)

// UndoAdmin is the undo kind of a fault added through an admin API: its
// data says which proxy and which fault (adminUndo).
const UndoAdmin = "http.admin-remove"

type adminUndo struct {
	URL       string `json:"url"`
	TokenFile string `json:"tokenFile"`
	ID        string `json:"id"`
}

func init() {
	chaos.RegisterUndo(UndoAdmin, func(ctx context.Context, data json.RawMessage) error {
		var u adminUndo
		if err := json.Unmarshal(data, &u); err != nil {
			return fmt.Errorf("httpfault: undo: %w", err)
		}
		a := &Admin{URL: u.URL, TokenFile: u.TokenFile}
		return a.remove(ctx, u.ID)
	})
}

// Prepare checks that the proxy answers its admin API with the token.
func (a *Admin) Prepare(ctx context.Context, f *chaos.Fault) (chaos.Undo, error) {
	spec, ok := f.Spec.(*Fault)
	if !ok {
		return chaos.Undo{}, fmt.Errorf("httpfault: fault %s is a %T, not an http fault", f.ID, f.Spec)
	}
	if field, msg := spec.Check(); msg != "" {
		return chaos.Undo{}, &chaos.InputError{Field: field, Msg: msg}
	}
	if _, err := a.call(ctx, http.MethodGet, adminFaults, nil); err != nil {
		return chaos.Undo{}, err
	}
	return chaos.NewUndo(UndoAdmin, adminUndo{URL: a.URL, TokenFile: a.TokenFile, ID: f.ID})
}

// Apply adds f to the proxy under f.ID, with a lease.
func (a *Admin) Apply(ctx context.Context, f *chaos.Fault) (chaos.Revert, error) {
	spec := *f.Spec.(*Fault)
	spec.ID, spec.Proxy = f.ID, ""
	spec.Lease = chaos.Duration(a.lease())
	body, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if _, err := a.call(ctx, http.MethodPost, adminFaults, body); err != nil {
		return nil, err
	}
	a.ids = append(a.ids, f.ID)
	return func(ctx context.Context) error { return a.remove(ctx, f.ID) }, nil
}

// Renew renews the lease of every fault this Admin added that is still
// there; faults already removed are skipped.
func (a *Admin) Renew(ctx context.Context) error {
	var errs []error
	for _, id := range a.ids {
		if _, err := a.call(ctx, http.MethodPost, adminFaults+"/"+id+"/renew", nil); err != nil && !errors.Is(err, ErrNoFault) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *Admin) lease() time.Duration {
	if a.Lease > 0 {
		return a.Lease
	}
	return chaos.DefaultLeaseTTL
}

// remove deletes the fault id; one that is not there is removed already.
func (a *Admin) remove(ctx context.Context, id string) error {
	_, err := a.call(ctx, http.MethodDelete, adminFaults+"/"+id, nil)
	if errors.Is(err, ErrNoFault) {
		return nil
	}
	return err
}

// call sends one admin request; a 404 is ErrNoFault.
func (a *Admin) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	tok, err := ReadToken(a.TokenFile)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, chaos.Inputf("admin URL %q: %v", a.URL, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	c := a.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("httpfault: admin %s: %w", a.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s %s", ErrNoFault, method, path)
	case res.StatusCode == http.StatusUnauthorized:
		return nil, chaos.Inputf("admin %s refused the token of %s", a.URL, a.TokenFile)
	case res.StatusCode >= 400:
		var e apiError
		_ = json.Unmarshal(b, &e)
		if res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusConflict {
			return nil, chaos.Inputf("admin %s: %s", a.URL, e.Error)
		}
		return nil, fmt.Errorf("httpfault: admin %s %s: %d %s", method, path, res.StatusCode, e.Error)
	}
	return b, nil
}
