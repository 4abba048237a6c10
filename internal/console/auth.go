package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

// A console session ends after IdleTimeout without a request, and
// MaxLifetime after signing in, whichever comes first.
const (
	IdleTimeout = 30 * time.Minute
	MaxLifetime = 12 * time.Hour
	// touchEvery is how often a session's last activity is written.
	touchEvery = time.Minute
)

// Failed sign-ins are throttled per client address: signInBurst in a row,
// then one per signInRefill. Successful sign-ins are never delayed.
const (
	signInBurst  = 5
	signInRefill = 12 * time.Second
)

// maxForm bounds a form's body.
const maxForm = 64 << 10

// cookieName is the session cookie's name: with the __Host- prefix when it
// is Secure (the browser then refuses it from anything but this host, over
// https, for the whole site).
func (c *Console) cookieName() string {
	if c.secure {
		return "__Host-latchkey_console"
	}
	return "latchkey_console"
}

// signInCookie holds the random value the sign-in form's CSRF token derives
// from, before there is a session.
func (c *Console) signInCookie() string {
	if c.secure {
		return "__Host-latchkey_sign_in"
	}
	return "latchkey_sign_in"
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge.Seconds()), HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *Console) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

// csrfToken is the synchronizer token of a session's forms: an HMAC of a
// fixed label under the session's token, which only the signed-in browser
// knows (the cookie is HttpOnly); a page cannot read it from another origin.
func csrfToken(sessionToken string) string {
	return derive(sessionToken, "latchkey console forms")
}

func derive(key, label string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(label))
	return hex.EncodeToString(m.Sum(nil))
}

func validToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

// sameOrigin checks where a form post comes from: a browser says so in
// Sec-Fetch-Site and Origin; a post from another site is refused whatever it
// carries. Without either header (older browsers, scripts) the CSRF token
// alone decides.
func (c *Console) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (c.origin != "" && o == c.origin) || o == scheme+"://"+r.Host
}

// client is the client's address for logs and the audit trail: the peer, or
// the client a trusted proxy names ("" when unknown).
func (c *Console) client(r *http.Request) string {
	a := c.limiter.Client(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// session finds the signed-in operator of r: nil when there is no valid
// session (ended says why one ended: "expired", or "" for none).
func (c *Console) session(w http.ResponseWriter, r *http.Request) (q *request, ended string, err error) {
	ck, err := r.Cookie(c.cookieName())
	if err != nil || ck.Value == "" {
		return nil, "", nil
	}
	digest := secret.HashToken(ck.Value)
	sess, env, err := c.o.Store.ConsoleSession(r.Context(), digest)
	if errors.Is(err, domain.ErrNotFound) {
		// Signed out elsewhere, purged, or its key was revoked.
		c.clearCookie(w, c.cookieName())
		return nil, "ended", nil
	}
	if err != nil {
		return nil, "", err
	}
	now := c.clock.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= IdleTimeout {
		if err := c.o.Store.DeleteConsoleSession(r.Context(), digest); err != nil {
			c.log.Warn("console: could not delete an expired session", "err", err)
		}
		c.clearCookie(w, c.cookieName())
		return nil, "expired", nil
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := c.o.Store.TouchConsoleSession(r.Context(), sess.ID, now); err != nil {
			c.log.Warn("console: could not record session activity", "err", err)
		}
	}
	return &request{w: w, r: r, sess: sess, env: env, token: ck.Value}, "", nil
}

// page wraps a page: a signed-in operator sees it; anyone else is sent to
// sign in, and back here afterwards.
func (c *Console) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, ended, err := c.session(w, r)
		if err != nil {
			c.fail(&request{w: w, r: r}, err)
			return
		}
		if q == nil {
			u := Prefix + "/sign-in?next=" + url.QueryEscape(r.URL.RequestURI())
			if ended != "" {
				u += "&done=" + ended
			}
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
		if err := h(q); err != nil {
			c.fail(q, err)
		}
	}
}

// action wraps a form post: it must come from a console page of this origin
// (Origin, Sec-Fetch-Site) and carry the session's CSRF token.
func (c *Console) action(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.sameOrigin(r) {
			c.forbidden(w, r, nil, "This form was sent from another site, so latchkey refused it. Use the console's own pages.")
			return
		}
		q, ended, err := c.session(w, r)
		if err != nil {
			c.fail(&request{w: w, r: r}, err)
			return
		}
		if q == nil {
			u := Prefix + "/sign-in"
			if ended != "" {
				u += "?done=" + ended
			}
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			c.fail(q, domain.Invalid("invalid_form", "The form could not be read."))
			return
		}
		if !validToken(r.PostForm.Get("csrf"), csrfToken(q.token)) {
			c.forbidden(w, r, q, "This form is missing its security token or has an old one, so latchkey refused it. Reload the page and try again.")
			return
		}
		if err := h(q); err != nil {
			c.fail(q, err)
		}
	}
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, q *request, msg string) {
	c.log.Warn("console: form refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "client", c.client(r))
	if q == nil {
		q = &request{w: w, r: r}
	}
	c.render(w, q, http.StatusForbidden, "error", view{Title: "Refused", Error: msg, Data: http.StatusForbidden})
}

// record adds a console action to the audit trail.
func (c *Console) record(q *request, action, target, detail string) {
	if c.o.Audit == nil {
		return
	}
	c.o.Audit.Record(q.r.Context(), domain.AuditEntry{EnvironmentID: q.env.ID, SecretKeyID: q.sess.SecretKeyID, Via: domain.ViaConsole,
		Action: action, Target: target, Detail: detail, Client: c.client(q.r)})
}

// redirect answers a successful post: back to a page, which shows what done says.
func redirect(q *request, to string) error {
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
	return nil
}

// safeNext is where to go after signing in: a console page, never elsewhere.
func safeNext(next string) string {
	if next == Prefix || (strings.HasPrefix(next, Prefix+"/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") &&
		!strings.HasPrefix(next, Prefix+"/sign-")) {
		return next
	}
	return Prefix
}

type signInData struct {
	Next string
}

var signInNotices = map[string]string{
	"signed-out": "You are signed out.",
	"expired":    "Your session ended (after " + durationText(IdleTimeout) + " without activity, or " + durationText(MaxLifetime) + " after signing in). Sign in again.",
	"ended":      "Your session ended: you signed out elsewhere, or the key you signed in with was revoked. Sign in again.",
	"revoked":    "The key you signed in with is revoked, so your session ended. Sign in with another key.",
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if q, _, err := c.session(w, r); err == nil && q != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showSignIn(w, r, http.StatusOK, signInNotices[r.URL.Query().Get("done")], "", r.URL.Query().Get("next"))
}

// showSignIn renders the sign-in form with a fresh CSRF token, bound to a
// random value in a cookie of its own.
func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, flash, problem, next string) {
	pre := ""
	if ck, err := r.Cookie(c.signInCookie()); err == nil && len(ck.Value) == 64 {
		pre = ck.Value
	} else {
		pre, _ = secret.RandomToken("")
	}
	c.setCookie(w, c.signInCookie(), pre, time.Hour)
	c.render(w, &request{w: w, r: r}, status, "sign-in", view{Title: "Sign in", CSRF: derive(pre, "latchkey console sign-in"), Flash: flash, Error: problem,
		Data: signInData{Next: safeNext(next)}})
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !c.sameOrigin(r) {
		c.forbidden(w, r, nil, "This sign-in form was sent from another site, so latchkey refused it. Open the console at "+Prefix+" and sign in there.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		c.showSignIn(w, r, http.StatusBadRequest, "", "The form could not be read.", "")
		return
	}
	next := r.PostForm.Get("next")
	ck, err := r.Cookie(c.signInCookie())
	if err != nil {
		c.showSignIn(w, r, http.StatusForbidden, "", "Your browser did not send the sign-in cookie. Allow cookies for this site, then sign in again.", next)
		return
	}
	if !validToken(r.PostForm.Get("csrf"), derive(ck.Value, "latchkey console sign-in")) {
		c.showSignIn(w, r, http.StatusForbidden, "", "This sign-in form is missing its security token or has an old one. Sign in again on this page.", next)
		return
	}
	addr := c.limiter.Client(r)
	if wait, blocked := c.limiter.Wait(addr); blocked {
		secs := int(wait.Seconds() + 0.999)
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		c.showSignIn(w, r, http.StatusTooManyRequests, "", fmt.Sprintf("Too many failed sign-ins from your address. Try again in %s.", plural(secs, "second")), next)
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("secret_key"))
	if key == "" {
		c.showSignIn(w, r, http.StatusBadRequest, "", "Enter one of the environment's secret keys.", next)
		return
	}
	env, k, err := c.o.Keys.Authenticate(r.Context(), key)
	if err != nil {
		if _, ok := domain.AsError(err); !ok {
			c.fail(&request{w: w, r: r}, err)
			return
		}
		c.limiter.Failed(addr)
		c.log.Warn("console: sign-in refused", "client", c.client(r))
		c.showSignIn(w, r, http.StatusUnauthorized, "", "That secret key is not valid: it is mistyped, or it was revoked.", next)
		return
	}
	c.limiter.Succeeded(addr)
	now := c.clock.Now()
	token, err := secret.RandomToken("")
	if err != nil {
		c.fail(&request{w: w, r: r}, err)
		return
	}
	sess, err := c.o.Store.CreateConsoleSession(r.Context(), &domain.ConsoleSession{Digest: secret.HashToken(token), EnvironmentID: env.ID, SecretKeyID: k.ID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(MaxLifetime)})
	if err != nil {
		c.fail(&request{w: w, r: r}, err)
		return
	}
	c.clearCookie(w, c.signInCookie())
	c.setCookie(w, c.cookieName(), token, MaxLifetime)
	c.record(&request{w: w, r: r, sess: sess, env: env}, audit.SignIn, "environment "+env.Name, "")
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) signOut(q *request) error {
	if err := c.o.Store.DeleteConsoleSession(q.r.Context(), q.sess.Digest); err != nil {
		return err
	}
	c.clearCookie(q.w, c.cookieName())
	c.record(q, audit.SignOut, "environment "+q.env.Name, "")
	return redirect(q, Prefix+"/sign-in?done=signed-out")
}
