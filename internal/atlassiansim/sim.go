// Package atlassiansim is a simulated Atlassian Cloud for tests and demos. It
// answers the calls latchkey makes the way the real api.atlassian.com gateway
// and auth.atlassian.com token endpoint do: client-credentials tokens valid 60
// minutes, accessible-resources listing the sites a credential reaches with
// its scopes, Bearer tokens refused once expired or revoked; Basic auth checked, 401 for a wrong or revoked token, 401 with
// X-Failure-Category: FAILURE_CLIENT_SCOPE_CHECK when the token lacks the
// product's scopes, 404 for an unknown Cloud ID, and injected faults (429 with
// Retry-After / X-RateLimit-Reset, 5xx, hangs) on demand.
package atlassiansim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/httpx"
)

// patternReader yields an endless repeating byte pattern.
type patternReader struct{}

func (patternReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return len(p), nil
}

// Pattern returns an endless reader of the bytes the download endpoint sends.
func Pattern() io.Reader { return patternReader{} }

// Token is one service-account API token the simulator accepts.
type Token struct {
	Email       string
	Secret      string
	AccountID   string
	DisplayName string
	CloudID     string // the site the service account belongs to
	Jira        bool   // has Jira scopes
	Confluence  bool   // has Confluence scopes
	Revoked     bool
}

// Fault is an injected answer for the next Count requests (Count < 0: all).
type Fault struct {
	Status int
	Header map[string]string
	Body   string
	// Hang holds the request until the client gives up.
	Hang bool
	// Reset closes the connection without an answer (a TCP reset). Served by
	// NewServer, it reaches the caller: a reset on a reused connection never
	// does, for Go's transport sends a GET (or any request it may replay) again
	// on a new connection by itself, so such a request arriving on a reused
	// connection has that connection closed, uncounted, and the reset is given
	// to the fresh connection the transport opens next, where it is counted.
	Reset bool
	Count int
	// Arrived, when not nil, receives a value when a request takes this
	// fault; the answer then waits until Gate is closed (tests interleave a
	// change with a request in flight).
	Arrived chan<- struct{}
	Gate    <-chan struct{}
}

// Sim is the simulator; its zero value is not usable, call New.
type Sim struct {
	mu      sync.Mutex
	sites   map[string]string // cloud id → site subdomain
	tokens  map[string]*Token // secret → token
	clients map[string]*Client
	issued  map[string]*issued // access token → what it was issued for
	faults  []*Fault
	calls   []Call
	// Now is the clock used for X-RateLimit-Reset and token expiry; time.Now
	// when nil. Set it before serving, or use SetClock.
	Now   func() time.Time
	clock atomic.Pointer[func() time.Time]
	// tokenDelay holds each token answer (nanoseconds), see SlowTokens.
	tokenDelay atomic.Int64
}

// SlowTokens makes the token endpoint take d to answer (real time), as a
// loaded Atlassian might: it widens the window in which two callers could both
// ask for a token, so a test of "one fetch at a time" cannot pass by luck.
func (s *Sim) SlowTokens(d time.Duration) { s.tokenDelay.Store(int64(d)) }

// SetClock makes the simulator tell time with now (token expiry, rate-limit
// headers), safely while it serves.
func (s *Sim) SetClock(now func() time.Time) { s.clock.Store(&now) }

// Call records one request the simulator received (no credentials).
type Call struct {
	At     time.Time
	Method string
	Path   string
	Host   string
	Email  string
	Status int
	// Bearer says the call carried an OAuth access token.
	Bearer bool
}

// Demo values: a site, and a service account with a Jira+Confluence token.
const (
	DemoCloudID = "1a11d016-8984-4c3e-b9ab-142dd06acb1b"
	DemoSite    = "acme"
	DemoEmail   = "integration-bot@serviceaccount.atlassian.com"
	DemoToken   = "ATSTT3xFfGF0demoTOKENforLATCHKEYdemo0123456789abcdefABCDEF_-=0A1B2C3D"

	// A second site, so an OAuth 2.0 credential can reach two.
	DemoCloudID2 = "2b22e127-9a95-4d5f-8abc-253ee17bd2c2"
	DemoSite2    = "acme-eu"
	// An OAuth 2.0 client credential of a service account, reaching both sites.
	DemoClientID     = "LkDemoClient0123456789abcdefABCD"
	DemoClientSecret = "ATOADemoSecret_forLATCHKEY-0123456789abcdefghijklmnopqrstuvwxyz"
)

// DemoScopes are the demo client's scopes: Jira and Confluence, read and write.
var DemoScopes = []string{"read:jira-user", "read:jira-work", "write:jira-work", "read:confluence-user", "read:page:confluence"}

// TokenLifetime is how long an access token from the token endpoint lives.
const TokenLifetime = time.Hour

// Client is one OAuth 2.0 client credential of a service account.
type Client struct {
	ID, Secret  string
	AccountID   string
	DisplayName string
	// Sites are the Cloud IDs the service account may reach.
	Sites []string
	// Scopes were picked when the credential was created.
	Scopes  []string
	Revoked bool
}

type issued struct {
	client  string
	expires time.Time
}

// AddClient registers an OAuth 2.0 client credential.
func (s *Sim) AddClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cc := c
	s.clients[c.ID] = &cc
}

// RevokeClient makes a client credential fail from now on: no new token, and
// the tokens it was given are refused too.
func (s *Sim) RevokeClient(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		c.Revoked = true
	}
}

// RotateClientSecret gives a client credential a new secret (the old one stops working).
func (s *Sim) RotateClientSecret(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		c.Secret, c.Revoked = secret, false
	}
}

// SetClientScopes changes a client credential's scopes (tokens issued later carry them).
func (s *Sim) SetClientScopes(id string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; ok {
		c.Scopes = scopes
	}
}

// TokenRequests counts the token endpoint's successful answers.
func (s *Sim) TokenRequests() int {
	n := 0
	for _, c := range s.Calls() {
		if c.Path == "/oauth/token" && c.Status == http.StatusOK {
			n++
		}
	}
	return n
}

// New returns a simulator with the demo sites, token and OAuth 2.0 client.
func New() *Sim {
	s := &Sim{sites: map[string]string{}, tokens: map[string]*Token{}, clients: map[string]*Client{}, issued: map[string]*issued{}}
	s.AddSite(DemoCloudID, DemoSite)
	s.AddSite(DemoCloudID2, DemoSite2)
	s.AddToken(Token{Email: DemoEmail, Secret: DemoToken, AccountID: "712020:demo-bot", DisplayName: "Integration Bot", CloudID: DemoCloudID, Jira: true, Confluence: true})
	s.AddClient(Client{ID: DemoClientID, Secret: DemoClientSecret, AccountID: "712020:demo-oauth-bot", DisplayName: "OAuth Bot",
		Sites: []string{DemoCloudID, DemoCloudID2}, Scopes: DemoScopes})
	return s
}

// AddSite registers a Cloud ID and its site subdomain.
func (s *Sim) AddSite(cloudID, subdomain string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sites[cloudID] = subdomain
}

// AddToken registers a token.
func (s *Sim) AddToken(t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tt := t
	s.tokens[t.Secret] = &tt
}

// Revoke makes a token fail from now on.
func (s *Sim) Revoke(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[secret]; ok {
		t.Revoked = true
	}
}

// SetScopes changes which products a token may use.
func (s *Sim) SetScopes(secret string, jira, confluence bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[secret]; ok {
		t.Jira, t.Confluence = jira, confluence
	}
}

// Inject queues a fault for the next requests.
func (s *Sim) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := f
	s.faults = append(s.faults, &ff)
}

// ClearFaults removes every queued fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns the requests received so far.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *Sim) now() time.Time {
	if f := s.clock.Load(); f != nil {
		return (*f)()
	}
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// resetPending reports whether the next fault to apply is a reset.
func (s *Sim) resetPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Count != 0 {
			return f.Reset
		}
	}
	return false
}

// transportRetries reports whether Go's client transport sends r again by itself
// after a reset on a reused connection (its rule for replayable requests).
func transportRetries(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
}

// resetConn closes the request's connection with a TCP reset, without an answer.
func resetConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}
	}
}

type connKey struct{}

// connInfo counts the requests served on one connection.
type connInfo struct{ requests atomic.Int64 }

// ConnContext lets the simulator tell a fresh connection from a reused one; it
// is the http.Server's ConnContext in NewServer. Without it, Fault.Reset resets
// whatever connection the request came on.
func (s *Sim) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connInfo{})
}

// NewServer starts the simulator on a loopback httptest server that knows its
// connections (see Fault.Reset).
func (s *Sim) NewServer() *httptest.Server {
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ConnContext = s.ConnContext
	srv.Start()
	return srv
}

func (s *Sim) nextFault() *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.faults) > 0 {
		f := s.faults[0]
		if f.Count == 0 {
			s.faults = s.faults[1:]
			continue
		}
		if f.Count > 0 {
			f.Count--
		}
		return f
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers like the gateway (api.atlassian.com/ex/{product}/{cloudId}/…)
// and like a site (<sub>.atlassian.net/…, recognised by X-Forwarded-Host).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(*connInfo); ok && c.requests.Add(1) > 1 && transportRetries(r) && s.resetPending() {
		// A reset is due, but this request came on a reused connection, and Go's
		// transport answers a reset there by sending the request again on a new
		// connection by itself, hiding it from the caller under test. Close this
		// connection (as a server dropping an idle keep-alive does: not a call,
		// not counted); the reset goes to the fresh connection that comes next.
		resetConn(w)
		return
	}
	email, _, _ := r.BasicAuth()
	// Record the call before acting on it, and its status before the answer
	// leaves: a test reading Calls() while a call hangs, right after its client
	// gave up, or as soon as the answer arrived, sees it.
	s.mu.Lock()
	idx := len(s.calls)
	s.calls = append(s.calls, Call{At: s.now(), Method: r.Method, Path: r.URL.Path, Host: r.Header.Get("X-Forwarded-Host"), Email: email,
		Bearer: strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")})
	s.mu.Unlock()
	rec := &httpx.StatusRecorder{ResponseWriter: w, OnStatus: func(status int) {
		s.mu.Lock()
		s.calls[idx].Status = status
		s.mu.Unlock()
	}}
	w = rec
	if f := s.nextFault(); f != nil {
		if f.Arrived != nil {
			f.Arrived <- struct{}{}
		}
		if f.Gate != nil {
			select {
			case <-f.Gate:
			case <-r.Context().Done():
				return
			}
		}
		if f.Hang {
			<-r.Context().Done()
			return
		}
		if f.Reset {
			resetConn(rec.ResponseWriter)
			return
		}
		for k, v := range f.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		body := f.Body
		if body == "" {
			body = fmt.Sprintf(`{"code":%d,"message":"%s"}`, f.Status, http.StatusText(f.Status))
		}
		_, _ = w.Write([]byte(body))
		return
	}
	switch r.URL.Path {
	case "/oauth/token":
		s.serveToken(w, r)
		return
	case "/oauth/token/accessible-resources":
		s.serveResources(w, r)
		return
	}
	product, cloudID, rest, ok := gatewayPath(r.URL.Path)
	if !ok {
		// Site URL: https://<sub>.atlassian.net/rest/api/3/myself or /wiki/rest/api/user/current.
		s.serveSite(w, r)
		return
	}
	s.mu.Lock()
	_, siteKnown := s.sites[cloudID]
	s.mu.Unlock()
	if !siteKnown {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "Not Found"})
		return
	}
	tok := s.authenticate(r)
	if tok == nil || tok.CloudID != cloudID {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "Unauthorized"})
		return
	}
	if (product == "jira" && !tok.Jira) || (product == "confluence" && !tok.Confluence) {
		w.Header().Set("X-Failure-Category", "FAILURE_CLIENT_SCOPE_CHECK")
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "Unauthorized; scope does not match"})
		return
	}
	s.serveProduct(w, r, product, rest, tok)
}

func (s *Sim) serveSite(w http.ResponseWriter, r *http.Request) {
	host := r.Header.Get("X-Forwarded-Host")
	sub, _, _ := strings.Cut(host, ".")
	s.mu.Lock()
	var cloudID string
	for id, sd := range s.sites {
		if sd == sub {
			cloudID = id
		}
	}
	s.mu.Unlock()
	if cloudID == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessage": "Site temporarily unavailable"})
		return
	}
	tok := s.authenticate(r)
	if tok == nil || tok.CloudID != cloudID {
		w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errorMessages": []string{"Client must be authenticated to access this resource."}})
		return
	}
	if strings.HasPrefix(r.URL.Path, "/wiki/") {
		s.serveProduct(w, r, "confluence", strings.TrimPrefix(r.URL.Path, "/wiki"), tok)
		return
	}
	s.serveProduct(w, r, "jira", r.URL.Path, tok)
}

func (s *Sim) serveProduct(w http.ResponseWriter, r *http.Request, product, rest string, tok *Token) {
	switch {
	case product == "jira" && rest == "/rest/api/3/myself":
		writeJSON(w, http.StatusOK, map[string]any{
			"self": "https://api.atlassian.com/ex/jira/" + tok.CloudID + "/rest/api/3/user?accountId=" + tok.AccountID, "accountId": tok.AccountID,
			"accountType": "app", "emailAddress": tok.Email, "displayName": tok.DisplayName, "active": true, "timeZone": "Etc/UTC", "locale": "en_US",
		})
	case product == "confluence" && (rest == "/rest/api/user/current" || rest == "/wiki/rest/api/user/current"):
		writeJSON(w, http.StatusOK, map[string]any{
			"type": "known", "accountId": tok.AccountID, "accountType": "app", "email": tok.Email, "publicName": tok.DisplayName, "displayName": tok.DisplayName,
		})
	case product == "jira" && rest == "/rest/api/3/download":
		// Streams ?bytes=N bytes, for large-body tests.
		n, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		_, _ = io.CopyN(w, patternReader{}, n)
	case product == "jira" && strings.HasPrefix(rest, "/rest/api/3/"):
		// Anything else answers with an echo, so proxy tests can see what arrived.
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		headers := map[string]string{}
		for k := range r.Header {
			headers[k] = r.Header.Get(k)
		}
		w.Header().Set("Link", `<https://api.atlassian.com/next>; rel="next"`)
		w.Header().Set("X-RateLimit-Remaining", "99")
		writeJSON(w, http.StatusOK, map[string]any{"product": product, "path": rest, "query": r.URL.RawQuery, "method": r.Method,
			"headers": headers, "bodyBytes": n, "bodySHA256": hex.EncodeToString(h.Sum(nil))})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"Not found: " + rest}})
	}
}

func (s *Sim) authenticate(r *http.Request) *Token {
	h := r.Header.Get("Authorization")
	if bearer, ok := strings.CutPrefix(h, "Bearer "); ok {
		return s.bearer(bearer, cloudIDOf(r.URL.Path))
	}
	raw, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return nil
	}
	dec, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	email, secret, ok := strings.Cut(string(dec), ":")
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[secret]
	if !ok || t.Revoked || !strings.EqualFold(t.Email, email) {
		return nil
	}
	c := *t
	return &c
}

// gatewayPath splits /ex/{product}/{cloudId}/rest… .
func gatewayPath(p string) (product, cloudID, rest string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 4)
	if len(parts) < 4 || parts[0] != "ex" {
		return "", "", "", false
	}
	return parts[1], parts[2], "/" + parts[3], true
}

// RateLimited returns a 429 fault with both of Atlassian's headers.
func (s *Sim) RateLimited(retryAfter time.Duration, count int) Fault {
	return Fault{Status: http.StatusTooManyRequests, Count: count, Header: map[string]string{
		"Retry-After":           fmt.Sprint(int(retryAfter.Seconds())),
		"X-RateLimit-Reset":     s.now().Add(retryAfter).UTC().Format(time.RFC3339),
		"X-RateLimit-Remaining": "0",
		"RateLimit-Reason":      "jira-quota-global-based",
	}}
}

func cloudIDOf(path string) string {
	_, id, _, _ := gatewayPath(path)
	return id
}

// client returns the live client an access token was issued to.
func (s *Sim) client(access string) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issued[access]
	if !ok || !s.now().Before(is.expires) {
		return nil
	}
	c, ok := s.clients[is.client]
	if !ok || c.Revoked {
		return nil
	}
	cc := *c
	return &cc
}

// bearer authenticates an OAuth 2.0 access token for a call to one site: the
// service account must reach it; its scopes decide the products.
func (s *Sim) bearer(access, cloudID string) *Token {
	c := s.client(access)
	if c == nil {
		return nil
	}
	reaches := false
	for _, id := range c.Sites {
		reaches = reaches || id == cloudID
	}
	if !reaches {
		return nil
	}
	t := &Token{Email: strings.ToLower(c.ID) + "@serviceaccount.atlassian.com", AccountID: c.AccountID, DisplayName: c.DisplayName, CloudID: cloudID}
	for _, sc := range c.Scopes {
		t.Jira = t.Jira || strings.HasSuffix(sc, ":jira") || strings.Contains(sc, ":jira-")
		t.Confluence = t.Confluence || strings.HasSuffix(sc, ":confluence") || strings.Contains(sc, ":confluence-")
	}
	return t
}

func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// serveToken is POST auth.atlassian.com/oauth/token for the client-credentials
// grant, as Atlassian answers it: the parameters in a form or JSON body (the
// client may authenticate with Basic instead), 400 invalid_request for a
// missing parameter, 403 unauthorized_client for another grant type, 401
// access_denied for an unknown client, a wrong secret or a revoked credential,
// and a token valid 60 minutes, without a refresh token.
func (s *Sim) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"code": 405, "message": "Method Not Allowed"})
		return
	}
	params := map[string]string{}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON body")
			return
		}
		for k, v := range m {
			if str, ok := v.(string); ok {
				params[k] = str
			}
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid form body")
			return
		}
		for k := range form {
			params[k] = form.Get(k)
		}
	}
	if id, secret, ok := r.BasicAuth(); ok {
		params["client_id"], params["client_secret"] = id, secret
	}
	switch {
	case params["grant_type"] == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
		return
	case params["grant_type"] != "client_credentials":
		oauthError(w, http.StatusForbidden, "unauthorized_client", fmt.Sprintf("Grant type '%s' not allowed for the client.", params["grant_type"]))
		return
	case params["client_id"] == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: client_id")
		return
	}
	s.mu.Lock()
	c, ok := s.clients[params["client_id"]]
	if !ok || c.Revoked || c.Secret != params["client_secret"] {
		s.mu.Unlock()
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return
	}
	access := randomToken()
	if d := time.Duration(s.tokenDelay.Load()); d > 0 {
		s.mu.Unlock()
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		s.mu.Lock()
	}
	s.issued[access] = &issued{client: c.ID, expires: s.now().Add(TokenLifetime)}
	scope := strings.Join(c.Scopes, " ")
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "expires_in": int(TokenLifetime.Seconds()), "token_type": "Bearer", "scope": scope})
}

// serveResources is GET api.atlassian.com/oauth/token/accessible-resources:
// the sites the token's service account reaches, with the token's scopes.
func (s *Sim) serveResources(w http.ResponseWriter, r *http.Request) {
	access, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c := s.client(access)
	if c == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401, "message": "Unauthorized"})
		return
	}
	s.mu.Lock()
	out := []map[string]any{}
	for _, id := range c.Sites {
		if sub, ok := s.sites[id]; ok {
			out = append(out, map[string]any{"id": id, "url": "https://" + sub + ".atlassian.net", "name": sub, "scopes": c.Scopes,
				"avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "eyJsimulated." + base64.RawURLEncoding.EncodeToString(b)
}

// DropTokens forgets every access token issued so far, as if Atlassian had
// invalidated them before their expiry: calls with them get 401.
func (s *Sim) DropTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued = map[string]*issued{}
}

// BearerCalls counts the calls to a site's API (not the token endpoint nor
// accessible-resources) made with an OAuth access token, and how many of them
// were refused with 401.
func (s *Sim) BearerCalls() (total, refused int) {
	for _, c := range s.Calls() {
		if c.Bearer && strings.HasPrefix(c.Path, "/ex/") {
			total++
			if c.Status == http.StatusUnauthorized {
				refused++
			}
		}
	}
	return total, refused
}
