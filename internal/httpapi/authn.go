// Authentication of API callers: one of the environment's secret keys
// (secretkeys.Service, which caches them briefly) or a connect session token,
// as the route's access level (routes.go) asks; failures are throttled per
// client address (throttle.go).
package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// caller is who made an authenticated request.
type caller struct {
	env     *domain.Environment
	keyID   int64                  // the secret key's id, when authenticated by one
	session *domain.ConnectSession // set when authenticated by a session token
}

type callerKey struct{}

// callerFrom is who made r, on a route guard let through.
func callerFrom(r *http.Request) *caller {
	if st := stateOf(r.Context()); st != nil && st.caller.env != nil {
		return &st.caller
	}
	return r.Context().Value(callerKey{}).(*caller)
}

// bearer reads "Authorization: Bearer <token>" (the scheme is
// case-insensitive); a bare token or another scheme is malformed.
func bearer(r *http.Request) (string, *domain.Error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" {
		return "", domain.Unauthenticated("missing_auth_header", "Authentication is required: send Authorization: Bearer <secret key>.")
	}
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", domain.Unauthenticated("malformed_auth_header", "The Authorization header must be: Bearer <secret key>.")
	}
	return token, nil
}

// authenticate finds who is calling, refusing an address that has failed too
// often (throttle.go) and counting a new failure.
func (a *API) authenticate(r *http.Request, allowSecret, allowSession bool) (caller, error) {
	addr := a.throttle.Client(r)
	if wait, blocked := a.throttle.Wait(addr); blocked {
		return caller{}, tooManyFailures(wait)
	}
	c, err := a.credential(r, allowSecret, allowSession)
	if err != nil && guessing(err) {
		a.throttle.Failed(addr)
	}
	return c, err
}

// sessionFromToken resolves a connect session token from the query string (the
// browser's submissions), throttled like a bearer credential.
func (a *API) sessionFromToken(r *http.Request, token string) (*domain.ConnectSession, error) {
	addr := a.throttle.Client(r)
	if wait, blocked := a.throttle.Wait(addr); blocked {
		return nil, tooManyFailures(wait)
	}
	sess, err := a.connect.SessionByToken(r.Context(), token)
	if err != nil && guessing(err) {
		a.throttle.Failed(addr)
	}
	return sess, err
}

func (a *API) credential(r *http.Request, allowSecret, allowSession bool) (caller, error) {
	token, p := bearer(r)
	if p != nil {
		return caller{}, p
	}
	if strings.HasPrefix(token, connect.SessionTokenPrefix) {
		if !allowSession {
			return caller{}, domain.Unauthenticated("unknown_account", "This route needs the environment's secret key, not a connect session token.")
		}
		sess, err := a.connect.SessionByToken(r.Context(), token)
		if err != nil {
			return caller{}, err
		}
		env, err := a.envs.EnvironmentByID(r.Context(), sess.EnvironmentID)
		if err != nil {
			return caller{}, err
		}
		return caller{env: env, session: sess}, nil
	}
	if !allowSecret {
		return caller{}, domain.Unauthenticated("invalid_connect_session_token_format", "This route needs a connect session token.")
	}
	env, key, err := a.keys.Authenticate(r.Context(), token)
	if err != nil {
		return caller{}, err
	}
	return caller{env: env, keyID: key.ID}, nil
}

func (a *API) guard(h handlerFunc, allowSecret, allowSession bool) http.Handler {
	return a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.authenticate(r, allowSecret, allowSession)
		if err != nil {
			return err
		}
		if st := stateOf(r.Context()); st != nil {
			// The request's state holds the caller: no second copy of the request.
			st.caller = c
			return h(w, r)
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, &caller{env: c.env, keyID: c.keyID, session: c.session})))
	})
}
